"""moto's server app served by a single-threaded werkzeug.

`moto_server` runs werkzeug threaded, and moto's conditional writes are not atomic across threads: two
parallel UpdateItems with one condition on one item can both win. DynamoDB never lets that happen, so
the local stack, the tests and the bench serve moto one request at a time (HTTP/1.0, one connection per
request), which keeps every conditional write and transaction atomic, as in AWS.

Usage: python3 local/moto_server.py HOST PORT
"""
import os
import signal
import sys

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import run_simple


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # moto builds some resource URLs (SQS queue URLs) from this.
    os.environ.setdefault("MOTO_PORT", str(port))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    run_simple(host, port, DomainDispatcherApplication(create_backend_app), threaded=False, processes=1)


if __name__ == "__main__":
    main()
