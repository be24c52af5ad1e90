"""Reproduce snnTorch's tutorial 2 with lifgen: figures and captions in docs/gallery.

Run from the repository root: python examples/tutorial.py [OUT_FOLDER]
"""

import sys

from lifgen.tools.gallery import make_gallery

if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/gallery"
    for entry in make_gallery(out, overwrite=True):
        print(f"{entry['figure']}\n  {entry['caption']}\n")
