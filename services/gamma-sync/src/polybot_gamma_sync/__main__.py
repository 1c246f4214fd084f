"""`python -m polybot_gamma_sync`: run the gamma-sync service."""

from polybot.runtime.lifecycle import run_service
from polybot_gamma_sync.service import GammaSyncService


def main() -> None:
    run_service(GammaSyncService(), lambda s: s.ops.gamma_sync)


if __name__ == "__main__":
    main()
