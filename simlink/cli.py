"""Command line: ``simlink validate|list|datagen|train|run|report``.

Bad input ends with one line per problem on stderr and exit code 2, never a
traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

from simlink.config import Scenario, ScenarioError, load_scenario

EXIT_USAGE = 2

ENVIRONMENT_KINDS = ("cdl", "tdl", "umi", "uma", "rma", "gaussian", "file")


class CliError(Exception):
    """A user-facing failure: its lines are printed and the exit code is 2."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def scenario_problems(scenario: Scenario) -> list[str]:
    """Problems the schema cannot see alone: ``file`` environments whose data
    do not fit the system (read lazily: only these need the file)."""
    problems = []
    for i, env in enumerate(scenario.environments):
        if env.kind == "file":
            from simlink.channels import check_file_env
            problems += [f"environments[{i}]: {p}" for p in check_file_env(env, scenario.system)]
    return problems


def _load(path: str) -> Scenario:
    try:
        scenario = load_scenario(path)
    except ScenarioError as exc:
        raise CliError(exc.problems) from None
    problems = scenario_problems(scenario)
    if problems:
        raise CliError([f"{path}: {p}" for p in problems])
    return scenario


def cmd_validate(args: argparse.Namespace) -> int:
    failed = False
    for path in args.files:
        try:
            _load(path)
        except CliError as exc:
            failed = True
            for line in exc.lines:
                print(line, file=sys.stderr)
        else:
            print(f"{path}: ok")
    return EXIT_USAGE if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from simlink.estimators import REGISTRY
    print("environments: " + ", ".join(ENVIRONMENT_KINDS))
    print("estimators:")
    for kind, cls in sorted(REGISTRY.items()):
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        needs = ",".join(sorted(cls.requires))
        print(f"  {kind:<14} [{needs}] {doc}")
    return 0


def cmd_datagen(args: argparse.Namespace) -> int:
    from simlink.campaign import prepare_data
    prepare_data(_load(args.scenario), smoke=args.smoke, quiet=args.quiet)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from simlink.campaign import train
    train(_load(args.scenario), smoke=args.smoke, quiet=args.quiet)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from simlink.campaign import run
    from simlink.campaign.report import summary_table
    scenario = _load(args.scenario)
    out = args.out or str(Path("runs") / scenario.name)
    df = run(scenario, out=out, smoke=args.smoke, resume=args.resume, backend=args.backend,
             workers=args.workers, seed=args.seed, quiet=args.quiet, address=args.address)
    if not args.quiet:
        print(summary_table(df))
        print(f"results, manifest and plots in {out}/")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from simlink.campaign import report
    report(args.dir)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="simlink", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check scenario files")
    v.add_argument("files", nargs="+")
    v.set_defaults(func=cmd_validate)

    sub.add_parser("list", help="registered environment kinds and estimators").set_defaults(func=cmd_list)

    for name, func, hlp in (("datagen", cmd_datagen, "generate the channel datasets"),
                            ("train", cmd_train, "fit every estimator (cached)")):
        c = sub.add_parser(name, help=hlp)
        c.add_argument("scenario")
        c.add_argument("--smoke", action="store_true", help="tiny sizes (the scenario's smoke section)")
        c.add_argument("--quiet", action="store_true")
        c.set_defaults(func=func)

    r = sub.add_parser("run", help="run a Monte Carlo campaign")
    r.add_argument("scenario")
    r.add_argument("--out", help="results folder (default runs/<scenario name>)")
    r.add_argument("--smoke", action="store_true", help="tiny sizes (the scenario's smoke section)")
    r.add_argument("--resume", action="store_true", help="skip the cells already finished in --out")
    r.add_argument("--backend", choices=("local", "ray"), default="local")
    r.add_argument("--address", help="Ray cluster address (backend ray)")
    r.add_argument("--workers", type=int, default=None,
                   help="worker processes (local, default 1) or actors (ray, default one per CPU)")
    r.add_argument("--seed", type=int, help="override the scenario seed")
    r.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    r.set_defaults(func=cmd_run)

    rep = sub.add_parser("report", help="summary table and plots of a results folder")
    rep.add_argument("dir")
    rep.set_defaults(func=cmd_report)
    return p


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that carry a one-line message for the user."""
    errors: list[type[BaseException]] = [CliError, ScenarioError]
    for module, name in (("simlink.campaign", "CampaignError"), ("simlink.channels", "ChannelError")):
        mod = sys.modules.get(module)
        if mod is not None and hasattr(mod, name):
            errors.append(getattr(mod, name))
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("--workers: must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted: finished cells are kept; re-run with --resume", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - user errors become one line, others re-raise
        if not isinstance(exc, _user_errors()):
            raise
        lines = exc.lines if isinstance(exc, CliError) else str(exc).splitlines() or [type(exc).__name__]
        for line in lines:
            print(f"error: {line}" if not isinstance(exc, CliError) else line, file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
