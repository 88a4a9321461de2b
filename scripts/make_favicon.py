"""Draw assets/favicon.png (a block with a skip arc around it). A local file, so the browser asks
no font server for the tab icon (a material-icon favicon is fetched from the internet)."""

from pathlib import Path

from PIL import Image, ImageDraw

out = Path(__file__).resolve().parents[1] / "assets" / "favicon.png"
im = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
d = ImageDraw.Draw(im)
d.line([(32, 4), (32, 60)], fill=(51, 51, 51, 255), width=5)
d.rounded_rectangle([(18, 22), (46, 42)], radius=5, fill=(214, 39, 40, 255))
d.arc([(20, 6), (62, 58)], start=-90, end=90, fill=(31, 119, 180, 255), width=5)
im.save(out)
print(out)
