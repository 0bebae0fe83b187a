"""The StackSet deployer: plan, AWS calls, retries, progress and the `trading-dr` commands.

Every function that talks to AWS takes its boto3 clients (through `aws.Clients`) as an
argument, so tests point them at the embedded local AWS and inject faults.
"""
