"""RunFolder.save_figure writes every figure as PNG (the report) and as PDF (vector, for papers)."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from nbutils.runs.folder import RunFolder  # noqa: E402


def test_save_figure_writes_a_png_and_a_vector_pdf_and_returns_the_figure(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1, 2], [0, 1, 4], label="a curve")
    out = RunFolder(tmp_path)
    assert out.save_figure(fig, "curve") is fig
    plt.close(fig)
    png, pdf = tmp_path / "figures" / "curve.png", tmp_path / "figures" / "curve.pdf"
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 100
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-") and b"%%EOF" in data[-32:]
    assert b"/Type /Page" in data and b"/Subtype /Image" not in data  # drawn as vectors, not a raster
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == ["curve.pdf", "curve.png"]
