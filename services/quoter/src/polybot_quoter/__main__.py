"""`python -m polybot_quoter`: run the quoter service."""

from polybot.runtime.lifecycle import run_service
from polybot_quoter.service import QuoterService


def main() -> None:
    run_service(QuoterService(), lambda s: s.ops.quoter)


if __name__ == "__main__":
    main()
