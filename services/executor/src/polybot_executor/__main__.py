"""`python -m polybot_executor`: run the executor service."""

from polybot.runtime.lifecycle import run_service
from polybot_executor.service import ExecutorService


def main() -> None:
    run_service(ExecutorService(), lambda s: s.ops.executor)


if __name__ == "__main__":
    main()
