"""`python -m courier [serve|migrate|check-config] [--config FILE] [--host H] [--port P] [--db URL] [--redis URL]`.

`migrate --revision REV` stops at REV (default head); it is safe to run while courier serves.
"""

from __future__ import annotations

import argparse
import sys

from courier.settings import SettingsError, load_settings


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="courier", description=__doc__)
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate", "check-config"])
    parser.add_argument("--config", help="YAML, JSON or TOML settings file (default: $COURIER_CONFIG)")
    parser.add_argument("--host", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8080)")
    parser.add_argument("--db", dest="database_url", help="database URL (default sqlite:///./courier.db)")
    parser.add_argument("--redis", dest="redis_url", help="Redis URL (default: an in-process queue)")
    parser.add_argument("--revision", default="head", help="migrate: the Alembic revision to reach (default head)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    overrides = {
        "host": args.host,
        "port": args.port,
        "database_url": args.database_url,
        "redis_url": args.redis_url,
    }
    try:
        settings = load_settings(args.config, overrides=overrides)
    except SettingsError as exc:
        print(f"courier: {exc}", file=sys.stderr)
        return 64
    if args.command == "check-config":
        print(settings.model_dump_json(indent=2))
        return 0
    if args.command == "migrate":
        from alembic.util.exc import CommandError

        from courier.db import current_revision, make_engine, upgrade

        engine = make_engine(settings)
        try:
            upgrade(engine, args.revision)
            at = current_revision(engine)
        except CommandError as exc:
            print(f"courier: migrate --revision {args.revision}: {exc}", file=sys.stderr)
            return 64
        finally:
            engine.dispose()
        print(f"courier: database migrated to {at}")
        return 0
    from courier.server import serve

    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
