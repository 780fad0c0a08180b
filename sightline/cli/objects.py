"""``sightline objects detect``: COCO objects (people, vehicles, animals...) in images."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sightline.cli.options import JsonOption, ModelsOption
from sightline.cli.output import console, emit_json, exit_if_failed, handle_errors, process_images, save_annotated
from sightline.models.store import ModelStore
from sightline.models.zoo import build_object_detector
from sightline.vision.image_io import load_image
from sightline.vision.objects.draw import draw_detections
from sightline.vision.objects.types import Detection

app = typer.Typer(help="Detect objects (80 COCO classes).", no_args_is_help=True)


@app.command()
def detect(
    images: list[Path] = typer.Argument(..., help="Image files."),
    backend: str = typer.Option("auto", "--backend", "-b", help="Object backend: auto, yolox, nanodet, centernet."),
    classes: str | None = typer.Option(None, "--classes", help="Keep only these classes, e.g. person,car."),
    min_score: float | None = typer.Option(None, "--min-score", min=0.0, max=1.0,
                                           help="Drop detections scoring below this (default 0.3)."),
    annotate: Path | None = typer.Option(None, "--annotate", help="Folder to write annotated copies into."),
    threads: int | None = typer.Option(None, "--threads", min=0, help="onnxruntime threads (default: all cores)."),
    models: Path | None = ModelsOption,
    as_json: bool = JsonOption,
) -> None:
    """Find objects: label, score and box (x1,y1,x2,y2 in image pixels) per object."""
    with handle_errors(as_json):
        detector = build_object_detector(backend, store=ModelStore(models), min_score=min_score, classes=classes,
                                         threads=threads)

    def work(path: Path) -> dict:
        pixels = load_image(path)
        found = detector.detect(pixels)
        if annotate is not None:
            save_annotated(annotate, path, draw_detections(pixels, found))
        if not as_json:
            _print_objects(path, found)
        return {"width": int(pixels.shape[1]), "height": int(pixels.shape[0]),
                "objects": [d.to_dict() for d in found]}

    results, failures = process_images(images, work, as_json=as_json, empty={"objects": []})
    if as_json:
        emit_json({"backend": detector.name, "min_score": detector.min_score, "results": results})
    exit_if_failed(failures)


def _print_objects(path: Path, found: list[Detection]) -> None:
    table = Table(title=f"{path} — {len(found)} object(s)", title_justify="left")
    for column in ("#", "label", "score", "box (x1,y1,x2,y2)"):
        table.add_column(column)
    for index, det in enumerate(found):
        table.add_row(str(index), det.label, f"{det.score:.2f}", ", ".join(f"{v:.0f}" for v in det.box))
    console.print(table)
