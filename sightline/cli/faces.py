"""``sightline faces detect|embed|verify``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from sightline.cli.options import FaceBackendOption, JsonOption, ModelsOption
from sightline.cli.output import console, emit_json, exit_if_failed, handle_errors, process_images, save_annotated
from sightline.engine import FaceEngine
from sightline.vision.draw import draw_faces
from sightline.vision.image_io import load_image

app = typer.Typer(help="Detect, embed and compare faces.", no_args_is_help=True)


@app.command()
def detect(
    images: list[Path] = typer.Argument(..., help="Image files."),
    annotate: Path | None = typer.Option(None, "--annotate", help="Folder to write annotated copies into."),
    backend: str = FaceBackendOption,
    models: Path | None = ModelsOption,
    as_json: bool = JsonOption,
) -> None:
    """Find faces: box, 5 landmarks, detection score and quality per face."""
    with handle_errors(as_json):
        engine = FaceEngine(backend, models_dir=str(models) if models else None).load()

    def work(path: Path) -> dict:
        pixels = load_image(path)
        faces = engine.detect_array(pixels)
        if annotate is not None:
            save_annotated(annotate, path, draw_faces(pixels, faces))
        if not as_json:
            _print_faces(path, faces)
        return {"faces": [f.to_dict() for f in faces]}

    results, failures = process_images(images, work, as_json=as_json, empty={"faces": []})
    if as_json:
        emit_json({"backend": engine.backend, "results": results})
    exit_if_failed(failures)


def _print_faces(path: Path, faces: list) -> None:
    console.print(f"[bold]{path}[/]: {len(faces)} face(s)", highlight=False, soft_wrap=True)
    if not faces:
        return
    table = Table()
    for column in ("#", "box (x1,y1,x2,y2)", "score", "quality", "size px", "yaw"):
        table.add_column(column)
    for index, face in enumerate(faces):
        q = face.quality
        table.add_row(str(index), ", ".join(f"{v:.0f}" for v in face.box), f"{face.score:.2f}",
                      f"{q.score:.2f}", f"{q.face_pixels:.0f}", f"{q.yaw:+.2f}")
    console.print(table)


@app.command()
def embed(
    image: Path = typer.Argument(..., help="Image file; the largest face is embedded."),
    backend: str = FaceBackendOption,
    models: Path | None = ModelsOption,
    as_json: bool = JsonOption,
) -> None:
    """Print the L2-normalised embedding of the main face."""
    with handle_errors(as_json):
        engine = FaceEngine(backend, models_dir=str(models) if models else None)
        face = engine.main_face(image)
        payload = {"image": str(image), "backend": engine.backend, "dim": int(face.embedding.size),
                   "face": face.to_dict(include_embedding=True)}
        if as_json:
            emit_json(payload)
        else:
            vector = face.embedding
            console.print(f"{image}: {vector.size}-D embedding ({engine.backend}), first values "
                          + " ".join(f"{v:+.3f}" for v in vector[:8]) + " …")


@app.command()
def verify(
    image_a: Path = typer.Argument(..., help="First image."),
    image_b: Path = typer.Argument(..., help="Second image."),
    threshold: float | None = typer.Option(None, help="Override the calibrated similarity threshold."),
    backend: str = FaceBackendOption,
    models: Path | None = ModelsOption,
    as_json: bool = JsonOption,
) -> None:
    """Are the main faces of two images the same person? Exit 0 if yes, 1 if not."""
    with handle_errors(as_json):
        engine = FaceEngine(backend, models_dir=str(models) if models else None, threshold=threshold)
        result = engine.verify(image_a, image_b)
    if as_json:
        emit_json(result.to_dict())
    else:
        verdict = "[green]same person[/]" if result.same_person else "[yellow]different people[/]"
        console.print(f"{verdict}: similarity {result.similarity:.3f} (threshold {result.threshold:.3f}, "
                      f"backend {result.backend})")
    if not result.same_person:
        raise typer.Exit(1)
