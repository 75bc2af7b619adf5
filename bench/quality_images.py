"""Image-fitting quality benchmark (see :mod:`pinr.bench.quality`); the same as
``pinr bench quality ARGS``, e.g. ``python bench/quality_images.py --quick`` or
``python bench/quality_images.py --device cuda --write bench/RESULTS.md``."""

from pinr.bench.quality import main

if __name__ == "__main__":
    raise SystemExit(main())
