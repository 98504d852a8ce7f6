"""`reassess zoo`: evaluate many models on several datasets, locally or over a Ray cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from reassess.cli.app import UserError, app, console
from reassess.cli.options import (
    Amp,
    AmpDtype,
    BatchSize,
    Device,
    KeepLogits,
    Precision,
    TopK,
    UseCache,
    Workers,
    inference_precision,
)


@app.command(
    "zoo",
    epilog="Example: reassess zoo models.txt --data imagenet-val:/data/val "
    "--data imagenetv2:/data/v2 --out runs/ -b 128 --amp",
)
def zoo_command(
    models_file: Annotated[
        Path, typer.Argument(help="Text file of model specs, one per line (# comments)")
    ],
    data: Annotated[
        list[str], typer.Option(help="Data spec; repeat for several datasets, e.g. folder:PATH")
    ],
    out: Annotated[Path, typer.Option(help="Folder of run folders: OUT/<data>/<model>/")],
    engine: Annotated[str, typer.Option(help="local (one process) or ray")] = "local",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address (default: start a local Ray)")
    ] = None,
    num_cpus: Annotated[
        int | None, typer.Option(min=1, help="CPUs of the local Ray (default: all)")
    ] = None,
    cpus_per_pair: Annotated[float, typer.Option(min=0.1, help="CPUs Ray gives each pair")] = 1,
    gpus_per_pair: Annotated[float, typer.Option(min=0, help="GPUs Ray gives each pair")] = 0,
    batch_size: BatchSize = 64,
    workers: Workers = None,
    device: Device = "auto",
    topk: TopK = 5,
    keep_logits: KeepLogits = False,
    threads: Annotated[int | None, typer.Option(help="Torch intra-op threads per pair")] = None,
    cache: UseCache = True,
    precision: Precision = "fp32",
    amp: Amp = False,
    amp_dtype: AmpDtype = None,
    compile_model: Annotated[
        bool, typer.Option("--compile", help="torch.compile each model first")
    ] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar over pairs")] = True,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the leaderboard as JSON")
    ] = False,
) -> None:
    """Evaluate every model of MODELS_FILE on every --data, each pair into its own run folder.

    Complete runs are skipped and interrupted ones resume, so rerunning the same command finishes a zoo. A failing pair is reported and the others go on. The leaderboard is printed and written to OUT/leaderboard.csv and OUT/leaderboard.json; exit status 1 when any pair failed.
    """
    from reassess.inference.runner import InferenceOptions
    from reassess.zoo import ENGINES, plan_pairs, read_models_file, run_pairs, write_leaderboard
    from reassess.zoo.leaderboard import leaderboard_json, leaderboard_rows, leaderboard_table

    if engine not in ENGINES:
        raise UserError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "local" and (address or num_cpus):
        raise UserError("--address and --num-cpus apply to --engine ray")
    # On a Ray cluster the pairs run on its machines: this one's devices say nothing about them.
    on_ray_gpus = (gpus_per_pair > 0 or device.startswith("cuda")) if engine == "ray" else None
    options = InferenceOptions(
        batch_size=batch_size,
        workers=workers,
        device=device,
        k=topk,
        keep_logits=keep_logits,
        threads=threads,
        cache=cache,
        precision=inference_precision(precision, amp, amp_dtype, device, cuda=on_ray_gpus),
        compile=compile_model,
        progress=False,
    )
    pairs = plan_pairs(read_models_file(models_file), data, out)
    out.mkdir(parents=True, exist_ok=True)
    engine_options = (
        {
            "address": address,
            "num_cpus": num_cpus,
            "cpus_per_pair": cpus_per_pair,
            "gpus_per_pair": gpus_per_pair,
        }
        if engine == "ray"
        else {}
    )
    quiet = json_output or not progress
    results = []
    with _pair_progress(enabled=not quiet) as bar:
        task = bar.add_task(f"zoo ({engine})", total=len(pairs))
        for result in run_pairs(pairs, options, engine=engine, **engine_options):
            results.append(result)
            bar.update(task, advance=1)
            if not json_output:
                bar.console.print(_result_line(result), highlight=False)
    rows = leaderboard_rows(results)
    csv_path, json_path = write_leaderboard(rows, out)
    failed = [r for r in results if not r.ok]
    if json_output:
        typer.echo(leaderboard_json(rows))
    else:
        console.print(leaderboard_table(rows, f"Leaderboard: {len(pairs)} pairs ({engine})"))
        console.print(f"leaderboard: [bold]{csv_path}[/], {json_path.name}")
        if failed:
            console.print(
                f"[red]{len(failed)} of {len(pairs)} pairs failed[/]; rerun the same command "
                "to retry them (complete runs are kept)"
            )
    if failed:
        raise typer.Exit(1)


def _result_line(result) -> str:
    pair = result.pair
    if result.status == "failed":
        return f"[red]✗ failed[/] {pair.model} on {pair.data}: {result.error}"
    if result.status == "skipped":
        return f"[dim]- already complete[/] {pair.model} on {pair.data}"
    return f"[green]✓[/] {pair.model} on {pair.data} ({result.seconds:.1f} s) -> {pair.out}"


def _pair_progress(*, enabled: bool):
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pairs"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )
