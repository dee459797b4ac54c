"""Command line: ``simlink validate|list|datagen|train|run|report``.

Bad input ends with one line per problem on stderr and exit code 2, never a
traceback.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from simlink.paths import PathError

if TYPE_CHECKING:
    from simlink.config import Scenario

EXIT_USAGE = 2

class CliError(Exception):
    """A user-facing failure: its lines are printed and the exit code is 2."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def scenario_problems(scenario: Scenario) -> list[str]:
    """Problems the schema cannot see alone: environments whose data do not
    fit the system (e.g. a ``file`` environment's file, read only here)."""
    from simlink.channels import check_environment

    return [f"environments[{i}]: {p}" for i, env in enumerate(scenario.environments)
            for p in check_environment(env, scenario.system)]


def _load(path: str) -> Scenario:
    from simlink.config import ScenarioError, load_scenario

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
    from simlink.catalog import describe, listing

    if args.plugins:
        from simlink.config import load_plugins
        try:
            load_plugins(args.plugins)
        except Exception as exc:  # noqa: BLE001 - any import failure is the user's file
            raise CliError([f"--plugin: cannot import: {type(exc).__name__}: {exc}"]) from None
    if args.kind is None:
        print(listing())
        return 0
    try:
        print(describe(args.kind), end="")
    except KeyError as exc:
        raise CliError([exc.args[0]]) from None
    return 0


def cmd_datagen(args: argparse.Namespace) -> int:
    from simlink.campaign import prepare_data
    prepare_data(_load(args.scenario), smoke=args.smoke, quiet=args.quiet)
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from simlink.campaign import train
    from simlink.campaign.report import fits_table
    out = train(_load(args.scenario), smoke=args.smoke, quiet=args.quiet,
                budget_minutes=args.budget, to_store=args.store)
    if not args.quiet:
        print(fits_table(out["fits"]))
    left = [f for f in out["fits"] if f["status"] in ("paused", "not started")]
    if left:
        again = " ".join(["simlink train", args.scenario, *(["--smoke"] if args.smoke else []),
                          "--budget", f"{args.budget:g}" if args.budget else "MINUTES"])
        print(f"{len(left)} of {len(out['fits'])} fits unfinished; their checkpoints are in the "
              f"weights store. Continue with:\n  {again}", file=sys.stderr)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from simlink.campaign import run
    from simlink.campaign.report import summary_table, terminal_width
    scenario = _load(args.scenario)
    out = args.out or str(Path("runs") / scenario.name)
    df = run(scenario, out=out, smoke=args.smoke, resume=args.resume, backend=args.backend,
             workers=args.workers, seed=args.seed, quiet=args.quiet, address=args.address)
    if not args.quiet:
        print(summary_table(df, terminal_width()))
        print(f"\nevery column in {Path(out) / 'results.csv'}; manifest and plots in {out}/")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from simlink.campaign import report
    report(args.dir)
    print(f"\nevery column in {Path(args.dir) / 'results.csv'}; plots in {Path(args.dir) / 'plots'}/")
    return 0


def _examples(*commands: str) -> str:
    return "examples:\n" + "\n".join(f"  {c}" for c in commands)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="simlink", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Link-level simulation of FDD MIMO-OFDM channel acquisition: write a\n"
                    "scenario file, run its Monte Carlo campaign, read the table and plots.",
        epilog=_examples("simlink validate scenarios/quickstart.yaml",
                         "simlink run scenarios/quickstart.yaml --smoke",
                         "simlink report runs/quickstart", "simlink list lmmse"))
    sub = p.add_subparsers(dest="command", required=True)

    def command(name: str, hlp: str, *examples: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=hlp, description=hlp[0].upper() + hlp[1:] + ".",
                              epilog=_examples(*examples),
                              formatter_class=argparse.RawDescriptionHelpFormatter)

    v = command("validate", "check scenario files", "simlink validate scenarios/*.yaml")
    v.add_argument("files", nargs="+")
    v.set_defaults(func=cmd_validate)

    ls = command("list", "registered environment and estimator kinds with their keys",
                 "simlink list", "simlink list lora_fb", "simlink list --plugin my_method.py")
    ls.add_argument("kind", nargs="?", help="show one kind in full")
    ls.add_argument("--plugin", dest="plugins", action="append", default=[],
                    help="a Python file or module registering more kinds (repeatable)")
    ls.set_defaults(func=cmd_list)

    for name, func, hlp, examples in (
            ("datagen", cmd_datagen, "generate the channel datasets into the cache",
             ["simlink datagen scenarios/quickstart.yaml"]),
            ("train", cmd_train, "fit every estimator, or find its weights in the cache or the store",
             ["simlink train scenarios/lora_feedback_baselines.yaml",
              "simlink train scenarios/dmvb_convergence.yaml --budget 150"])):
        c = command(name, hlp, *examples)
        c.add_argument("scenario")
        c.add_argument("--smoke", action="store_true", help="tiny sizes (the scenario's smoke section)")
        c.add_argument("--quiet", action="store_true")
        c.set_defaults(func=func)
        if name == "train":
            c.add_argument("--budget", type=float, metavar="MINUTES",
                           help="train for at most this long, then pause at a checkpoint; what "
                                "is trained and the checkpoints go to the weights store, and "
                                "the same command continues")
            c.add_argument("--store", action="store_true",
                           help="write what is trained (and what only the cache has) to the "
                                "weights store, without a time limit")

    r = command("run", "run a Monte Carlo campaign into a results folder",
                "simlink run scenarios/quickstart.yaml --smoke",
                "simlink run scenarios/link_cdl.yaml --out results/link_cdl --workers 2",
                "simlink run scenarios/quickstart.yaml --backend ray --address HOST:6379",
                "simlink run scenarios/quickstart.yaml --resume")
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

    rep = command("report", "summary table and plots of a results folder",
                  "simlink report runs/quickstart")
    rep.add_argument("dir", help="a results folder written by simlink run")
    rep.set_defaults(func=cmd_report)
    return p


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exception types that carry a one-line message for the user."""
    errors: list[type[BaseException]] = [CliError, PathError]
    for module, name in (("simlink.config", "ScenarioError"), ("simlink.campaign", "CampaignError"),
                         ("simlink.channels", "ChannelError")):
        mod = sys.modules.get(module)
        if mod is not None and hasattr(mod, name):
            errors.append(getattr(mod, name))
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from simlink import progress
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("--workers: must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "seed", None) is not None and args.seed < 0:
        print(f"--seed: must be a non-negative integer, got {args.seed}", file=sys.stderr)
        return EXIT_USAGE
    if args.command == "run" and args.backend == "local" and (args.workers or 1) > 1:
        # The workers import TensorFlow while this process does (and then
        # checks the data and the weights): see simlink.pool.
        from simlink import pool
        pool.prestart(args.workers - 1)   # this process is the N-th worker
    try:
        # A block, not set_quiet: an in-process caller (a notebook, a test)
        # gets its own setting back.
        with progress.quiet(getattr(args, "quiet", False)):
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
    finally:
        if "simlink.pool" in sys.modules:   # a run that failed before it took its workers
            sys.modules["simlink.pool"].discard()


if __name__ == "__main__":
    sys.exit(main())
