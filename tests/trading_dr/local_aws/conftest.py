from tests.trading_dr.local_aws.fixtures import local_aws, local_server, prod, prod_files

__all__ = ["local_aws", "local_server", "prod", "prod_files"]
