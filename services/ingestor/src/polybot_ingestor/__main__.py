"""`python -m polybot_ingestor`: run the ingestor service."""

from polybot.runtime.lifecycle import run_service
from polybot_ingestor.service import IngestorService


def main() -> None:
    run_service(IngestorService(), lambda s: s.ops.ingestor)


if __name__ == "__main__":
    main()
