"""The embedded local AWS: moto's server mode plus the project's extension.

`server.LocalAws` runs moto on 127.0.0.1; `extension.install()` teaches moto's
CloudFormation what the platform's templates and StackSet rollout need (see its
docstring for the list); `faults` lets tests make operations fail, throttle or overlap;
`lambdas`: Lambda invocations are answered from a queue, never executed (no docker), so
schema migrations are not executed locally (the migrate function reports none pending).
"""
