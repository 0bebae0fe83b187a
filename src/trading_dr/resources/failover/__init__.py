"""The failover workflow of one region: Step Functions, its ASL built here as plain data.

A copy runs in each region and always moves the writer *to its own region*, so failing
back is the same workflow in the other region. Read in this order:

- `workflow.py`: the input modes and what differs between them (`MODE_PROFILES`), and the
  one place that composes the steps in the order of their states;
- `run.py` and `recovery.py`: one builder per step, each returning its states: the run's
  frame (input check, lock, mode choice, release of the lock, notify, failure path) and
  the recovery itself (readiness, fence, promote, poll, verify, release of the fence);
- `asl.py`: the Task/Retry/Catch vocabulary every step uses;
- `machine.py`: the CloudFormation resources (role, state machine, EventBridge rule).
"""
