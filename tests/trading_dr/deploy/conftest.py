from tests.support.background import background_state
from tests.trading_dr.local_aws.fixtures import local_aws, local_server, prod, prod_files

__all__ = ["background_state", "local_aws", "local_server", "prod", "prod_files"]
