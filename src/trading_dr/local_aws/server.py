"""Run the local AWS: moto's `ThreadedMotoServer` on 127.0.0.1 with the extension."""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from types import TracebackType
from typing import Any

LOCAL_HOST = "127.0.0.1"
# Credentials the local endpoint accepts; never real ones.
LOCAL_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class LocalAws:
    """An in-process local AWS endpoint; `port=0` picks a free port; `live`: run the
    platform's schedules, alarms and EventBridge rules in real time (`live.Live`).

    Use as a context manager, or start()/stop(). All state lives in this process's moto
    backends: `reset()` empties them between tests.
    """

    def __init__(self, port: int = 0, verbose: bool = False, live: bool = True) -> None:
        self._port = port
        self._verbose = verbose
        self._live = live
        self._server: object | None = None
        self._publisher: Any = None
        self.live: Any = None  # the platform's schedules, alarms and EventBridge (`live`)
        self._previous_port: str | None = None
        self.endpoint_url = ""

    def start(self) -> LocalAws:
        try:
            from moto.server import ThreadedMotoServer
        except ImportError as exc:  # moto[server] is the optional `local` extra
            from trading_dr.errors import UsageError

            raise UsageError(
                "the local AWS needs moto's server mode; fix: pip install -e '.[local]'"
            ) from exc
        from trading_dr.local_aws.extension import install

        install()
        if not self._verbose:
            # One log line per request (werkzeug) and moto's per-resource warnings would
            # drown the deployer's own progress output.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            logging.getLogger("moto").setLevel(logging.ERROR)
            # moto logs every error a state machine catches; the workflow catches by design.
            logging.getLogger("moto.stepfunctions").setLevel(logging.CRITICAL)
        if self._live:
            # The platform's timeline (alarm changes, rules fired) goes to the server's log.
            live_log = logging.getLogger("trading_dr.local_aws.live")
            live_log.setLevel(logging.INFO)
            if not live_log.handlers and not logging.getLogger().handlers:
                handler = logging.StreamHandler()
                handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
                live_log.addHandler(handler)
        self._check_port_free()
        server = ThreadedMotoServer(ip_address=LOCAL_HOST, port=self._port, verbose=self._verbose)
        server.start()
        host, port = server.get_host_and_port()
        self._server = server
        self.endpoint_url = f"http://{host}:{port}"
        # Step Functions tasks and the validator's real code call this server back (one
        # variable per process: a server started later takes it until it stops).
        self._previous_port = os.environ.get("MOTO_PORT")
        os.environ["MOTO_PORT"] = str(port)
        self._configure()
        from trading_dr.local_aws.live import Live
        from trading_dr.local_aws.replication_lag import Publisher

        self._publisher = Publisher().start()
        # Tests drive `Live.tick` themselves, at the times they choose.
        self.live = Live().start() if self._live else None
        return self

    def _check_port_free(self) -> None:
        """moto's server thread dies on a taken port and start() then waits forever."""
        import socket

        from trading_dr.errors import UsageError

        if self._port == 0:
            return
        with socket.socket() as probe:
            try:
                probe.bind((LOCAL_HOST, self._port))
            except OSError as exc:
                raise UsageError(
                    f"cannot listen on {LOCAL_HOST}:{self._port}: {exc.strerror or exc}; "
                    "fix: stop what uses it or pass another --port (0 picks a free one)"
                ) from exc

    def _post(self, path: str, body: Any = None) -> None:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.endpoint_url}{path}", data=data, method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def _configure(self) -> None:
        """Lambda without docker: invocations are answered (`lambdas`), not executed;
        state machines execute (`workflows`)."""
        from trading_dr.local_aws import lambdas, workflows

        self._post("/moto-api/config", lambdas.CONFIG | workflows.CONFIG)

    def queue_lambda_answers(self, account: str, region: str, *answers: Any) -> None:
        """The next Lambda invocations in `account`/`region` return `answers`, in order
        (JSON-encoded; an `{"errorMessage", "errorType"}` answer is a FunctionError)."""
        self._post(
            "/moto-api/static/lambda-simple/response",
            {
                "account_id": account,
                "region": region,
                "results": [json.dumps(answer) for answer in answers],
            },
        )

    def provide(self, env: Any) -> list[str]:
        """Create what environment `env` references as pre-existing (its hosted zone):
        the state lives in this process's moto backends, so it is made directly there."""
        from trading_dr.local_aws.preexisting import provide

        return provide(env)

    def reset(self) -> None:
        """Forget every resource (moto's /moto-api/reset), queued Lambda answer and armed
        fault; the configuration is set again (a test may have changed it)."""
        from trading_dr.local_aws import faults, global_tables

        self._post("/moto-api/reset")
        self._configure()
        faults.clear()
        global_tables.clear()

    def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.stop()
            self._publisher = None
        if self.live is not None:
            self.live.stop()
            self.live = None
        if self._server is not None:
            self._server.stop()  # type: ignore[attr-defined]
            self._server = None
            if self._previous_port is None:
                os.environ.pop("MOTO_PORT", None)
            else:
                os.environ["MOTO_PORT"] = self._previous_port

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
