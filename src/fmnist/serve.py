"""``fmnist serve RUN``: a small web page where a photo meets a trained model, and a JSON endpoint.

    GET  /              the page: upload or drag a photo, see the 28x28 input as the model saw it,
                        the top 3 classes and where the model looked (one self-contained page: no
                        script, style or font from the network)
    POST /api/predict   multipart field ``file`` -> {"name", "top": [{"class", "probability"}],
                        "warnings", "input_png", "map_png"}; a bad upload gets {"error": "..."}
                        and a 4xx code. ``map_png`` is null unless asked for with ``?map=1`` (the
                        page asks): then the Integrated Gradients map of the top class over the
                        input (``fmnist.explain``; null without the explain extra)

Uploads are read in memory, at most ``MAX_UPLOAD_BYTES``, image types only (Starlette keeps a file
part over 1 MB in an anonymous temporary file while the request lasts; nothing is kept after it).
The photo is prepared by ``fmnist.data.photos.prepare_photo``, as ``fmnist predict`` prepares it.

The work of an upload (decoding, preparing, the model, the map, the PNGs) runs in threads, at most
one per core, never on the event loop: the page and the uploads still arriving are answered while
they compute. (Pillow's median filter, in preparing a photo, holds the interpreter lock for its
whole run, about 90 ms for 830x830 pixels: the page can wait that long behind each one.)
"""

from __future__ import annotations

import base64
import io
import os
from functools import partial
from typing import Annotated, Any

import anyio
import numpy as np
import torch
from fastapi import FastAPI, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image, UnidentifiedImageError

from fmnist.data.images import IMAGE_SUFFIXES
from fmnist.data.photos import prepare_photo
from fmnist.inference import Predictor

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
TOP = 3
SHOWN = 168  # pixels a side of the PNGs of the 28x28 input and its map (6x, nearest neighbour)
# Integrated Gradients steps of the page's map (fmnist explain takes 64): on 64 test images and a
# `fast` run, the 16-step map correlates 0.995 (least) with the 64-step one, at a fifth of the
# time (26 ms against 124 ms on one core), and the page shows it at 168 pixels.
MAP_IG_STEPS = 16
# RdBu_r, ColorBrewer's diverging palette as matplotlib draws it (11 stops, blue -1 to red +1):
# the map looks as in `fmnist explain`'s figures.
RED_BLUE = np.array(
    [
        [5, 48, 97], [32, 101, 171], [67, 147, 195], [144, 196, 221], [209, 229, 240],
        [247, 246, 246], [253, 219, 199], [243, 164, 129], [214, 96, 77], [177, 24, 43],
        [103, 0, 31],
    ],
    dtype=np.float32,
)  # fmt: skip


class BadUpload(Exception):
    """An upload that cannot be read as an image: a 415 with this message."""


def create_app(predictor: Predictor, title: str, *, workers: int | None = None) -> FastAPI:
    """The app serving ``predictor``: uploads are computed in at most ``workers`` threads at once
    (default: one per core), never on the event loop. Sets torch to one thread per operation, for
    the whole process: an upload is one image, too small to split over cores, so uploads run side
    by side instead, one per core (two threads per operation on a busy 2-core machine made a
    forward pass 10-20 times slower)."""
    torch.set_num_threads(1)
    limiter = anyio.CapacityLimiter(workers or os.cpu_count() or 1)
    page_html = PAGE.replace("{title}", title).replace("{limit}", str(MAX_UPLOAD_BYTES // 2**20))
    app = FastAPI(title="fmnist", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return page_html

    @app.post("/api/predict")
    async def predict(
        request: Request,
        file: UploadFile | None = None,
        with_map: Annotated[bool, Query(alias="map")] = False,
    ) -> JSONResponse:
        declared = int(request.headers.get("content-length") or 0)
        if file is None:
            return _error(422, "no file: send the photo as the multipart field 'file'")
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if declared > MAX_UPLOAD_BYTES + 4096 or len(data) > MAX_UPLOAD_BYTES:
            return _error(413, f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        name = file.filename or "upload"
        if not name.lower().endswith(IMAGE_SUFFIXES):
            return _error(415, f"{name} is not an image: allowed {', '.join(IMAGE_SUFFIXES)}")
        work = partial(_answer, predictor, data, name, with_map)
        try:
            return JSONResponse(await anyio.to_thread.run_sync(work, limiter=limiter))
        except BadUpload as exc:
            return _error(415, str(exc))

    return app


def _answer(predictor: Predictor, data: bytes, name: str, with_map: bool) -> dict[str, Any]:
    """The JSON answer to one upload (in a worker thread)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            prepared = prepare_photo(image)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise BadUpload(f"{name} cannot be read as an image ({exc})") from None
    probabilities = predictor.predict(prepared.pixels[None])[0]
    best = probabilities.argsort()[::-1][:TOP]
    return {
        "name": name,
        "top": [
            {"class": predictor.class_names[k], "probability": float(probabilities[k])}
            for k in best
        ],
        "warnings": prepared.warnings,
        "input_png": _png_data_uri(prepared.pixels),
        "map_png": _map_data_uri(predictor, prepared.pixels, int(best[0])) if with_map else None,
    }


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _map_data_uri(predictor: Predictor, pixels: np.ndarray, target: int) -> str | None:
    """Where the model looked for its top class: Integrated Gradients over the input."""
    from fmnist.errors import ConfigError
    from fmnist.explain import top_class_map

    try:
        attribution = top_class_map(predictor, pixels, target, steps=MAP_IG_STEPS)
    except ConfigError:  # captum is the explain extra: the page works without the map
        return None
    return _png_data_uri(overlay(pixels, attribution))


def overlay(pixels: np.ndarray, attribution: np.ndarray) -> np.ndarray:
    """A signed map over its 28x28 uint8 image, as (28, 28, 3) uint8: red for the class, blue
    against, more opaque where stronger, scaled to the 99th percentile of its magnitude (so one
    extreme pixel does not wash out the rest), as ``fmnist explain`` draws it."""
    scale = float(np.percentile(np.abs(attribution), 99)) or float(np.abs(attribution).max()) or 1.0
    signed = np.clip(attribution / scale, -1, 1)
    stops = np.linspace(-1, 1, len(RED_BLUE))
    colour = np.stack([np.interp(signed, stops, RED_BLUE[:, c]) for c in range(3)], -1)
    alpha = (0.15 + 0.85 * np.abs(signed))[..., None]
    grey = pixels[..., None].astype(np.float32)
    return (alpha * colour + (1 - alpha) * grey).round().astype(np.uint8)


def _png_data_uri(pixels: np.ndarray) -> str:
    """A 28x28 uint8 image, grey (28, 28) or colour (28, 28, 3), enlarged to SHOWN pixels a side,
    as a PNG data URI."""
    image = Image.fromarray(pixels)
    buffer = io.BytesIO()
    image.resize((SHOWN, SHOWN), Image.Resampling.NEAREST).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>fmnist: {title}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem;
       color: #222; }
h1 { font-size: 1.4rem; }
#drop { display: block; margin: 1rem 0; border: 2px dashed #888; border-radius: 8px; padding: 2rem;
        text-align: center; cursor: pointer; }
#drop.over { background: #eef; }
#result { display: flex; gap: 1.5rem; margin-top: 1.5rem; align-items: flex-start; }
#input, #map { image-rendering: pixelated; width: 168px; height: 168px; background: #000; }
.bar { background: #4c72b0; height: 1.1rem; border-radius: 3px; }
.row { margin: .4rem 0; min-width: 18rem; }
#error { color: #b00; margin-top: 1rem; }
.warning { color: #a60; }
</style></head><body>
<h1>What is this garment? <small>({title})</small></h1>
<p>Upload or drop a photo of one garment (PNG or JPEG, at most {limit} MB). It is prepared the way
Fashion-MNIST was made: trimmed, 28 pixels, sharpened, centred, light on black.</p>
<label id="drop">Drop a photo here, or click to choose one
<input id="file" type="file" accept="image/*" hidden></label>
<div id="error" role="alert"></div>
<div id="result" hidden>
  <figure><img id="input" alt="the 28x28 input the model saw"><figcaption>what the model saw
  </figcaption></figure>
  <figure id="where" hidden><img id="map" alt="where the model looked"><figcaption>where it
  looked (red: for its answer)</figcaption></figure>
  <div><div id="top"></div><div id="warnings"></div></div>
</div>
<script>
const drop = document.getElementById("drop"), input = document.getElementById("file");
drop.addEventListener("dragover", e => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", e => { e.preventDefault(); drop.classList.remove("over");
  if (e.dataTransfer.files.length) send(e.dataTransfer.files[0]); });
input.addEventListener("change", () => { if (input.files.length) send(input.files[0]); });
function text(tag, content, cls) { const el = document.createElement(tag);
  el.textContent = content; if (cls) el.className = cls; return el; }
async function send(file) {
  const error = document.getElementById("error"), result = document.getElementById("result");
  error.textContent = ""; const body = new FormData(); body.append("file", file);
  const answer = await (await fetch("api/predict?map=1", { method: "POST", body })).json();
  if (answer.error) { result.hidden = true; error.textContent = answer.error; return; }
  document.getElementById("input").src = answer.input_png;
  document.getElementById("where").hidden = !answer.map_png;
  if (answer.map_png) document.getElementById("map").src = answer.map_png;
  const top = document.getElementById("top"); top.replaceChildren();
  for (const t of answer.top) { const row = text("div", "", "row");
    row.append(text("div", `${t.class} ${(100 * t.probability).toFixed(1)} %`));
    const bar = text("div", "", "bar"); bar.style.width = `${Math.max(1, 100 * t.probability)}%`;
    row.append(bar); top.append(row); }
  const warnings = document.getElementById("warnings"); warnings.replaceChildren(
    ...answer.warnings.map(w => text("p", "warning: " + w, "warning")));
  result.hidden = false;
}
</script></body></html>
"""
