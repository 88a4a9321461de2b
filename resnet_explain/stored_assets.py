"""Where the stored results the library reads at run time live (shipped runs, the default views of
the experiments): ``assets/`` of the checkout, which an installed wheel carries inside the package
as ``resnet_explain/_assets`` (pyproject.toml maps it there), so they are found relative to the
package, never through the current folder."""

from __future__ import annotations

from pathlib import Path

_HERE = Path(__file__).resolve().parent
PACKAGED = _HERE / "_assets"  # an installed wheel
CHECKOUT = _HERE.parent / "assets"  # running from a checkout (or an editable install)


def assets_dir(*parts: str) -> Path:
    """The stored-assets folder (or a path inside it)."""
    root = PACKAGED if PACKAGED.is_dir() else CHECKOUT
    return root.joinpath(*parts)
