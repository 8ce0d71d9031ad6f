"""``fmnist serve RUN``: a small web page where a photo meets a trained model, and a JSON endpoint.

    GET  /              the page: upload or drag a photo, see the 28x28 input as the model saw it
                        and the top 3 classes (one self-contained page: no script, style or font
                        from the network)
    POST /api/predict   multipart field ``file`` -> {"name", "top": [{"class", "probability"}],
                        "warnings", "input_png", "map_png"}; a bad upload gets {"error": "..."}
                        and a 4xx code. ``map_png`` is the Integrated Gradients map of the top
                        class over the input (``fmnist.explain``; null without the explain extra)

Uploads are read in memory (never written to disk), at most ``MAX_UPLOAD_BYTES``, image types only.
The photo is prepared by ``fmnist.data.photos.prepare_photo``, as ``fmnist predict`` prepares it.
"""

from __future__ import annotations

import base64
import io

from fastapi import FastAPI, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse
from PIL import Image, UnidentifiedImageError

from fmnist.data.images import IMAGE_SUFFIXES
from fmnist.data.photos import prepare_photo
from fmnist.inference import Predictor

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
TOP = 3


def create_app(predictor: Predictor, title: str) -> FastAPI:
    app = FastAPI(title="fmnist", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def page() -> str:
        return PAGE.replace("{title}", title).replace("{limit}", str(MAX_UPLOAD_BYTES // 2**20))

    @app.post("/api/predict")
    async def predict(request: Request, file: UploadFile | None = None) -> JSONResponse:
        declared = int(request.headers.get("content-length") or 0)
        if file is None:
            return _error(422, "no file: send the photo as the multipart field 'file'")
        data = await file.read(MAX_UPLOAD_BYTES + 1)
        if declared > MAX_UPLOAD_BYTES + 4096 or len(data) > MAX_UPLOAD_BYTES:
            return _error(413, f"the file is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
        name = file.filename or "upload"
        if not name.lower().endswith(IMAGE_SUFFIXES):
            return _error(415, f"{name} is not an image: allowed {', '.join(IMAGE_SUFFIXES)}")
        try:
            with Image.open(io.BytesIO(data)) as image:
                prepared = prepare_photo(image)
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            return _error(415, f"{name} cannot be read as an image ({exc})")
        probabilities = predictor.predict(prepared.pixels[None])[0]
        best = probabilities.argsort()[::-1][:TOP]
        where = _map_data_uri(predictor, prepared.pixels)
        return JSONResponse(
            {
                "name": name,
                "top": [
                    {"class": predictor.class_names[k], "probability": float(probabilities[k])}
                    for k in best
                ],
                "warnings": prepared.warnings,
                "input_png": _png_data_uri(prepared.pixels),
                "map_png": where,
            }
        )

    return app


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _png_data_uri(pixels) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize((168, 168), Image.Resampling.NEAREST).save(buffer, "PNG")
    return _data_uri(buffer.getvalue())


def _map_data_uri(predictor: Predictor, pixels) -> str | None:
    """Where the model looked for its top class: Integrated Gradients over the input."""
    from fmnist.errors import ConfigError
    from fmnist.explain import explain_images
    from fmnist.report.figures import overlay_png

    try:
        (_, (explained,)) = explain_images(predictor, pixels[None])
    except ConfigError:  # captum is the explain extra: the page works without the map
        return None
    return _data_uri(overlay_png(pixels, explained.maps["integrated_gradients"]))


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


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
  const answer = await (await fetch("api/predict", { method: "POST", body })).json();
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
