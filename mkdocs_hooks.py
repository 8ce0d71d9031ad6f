"""mkdocs hook: the site keeps the repository's layout, so a relative link that works on GitHub
works on the site and `mkdocs build --strict` checks both.

mkdocs serves only what is under docs_dir, yet the pages link across the repository (README.md
to docs/use.md, docs/recipes.md to ../results/README.md, results figures, examples/tiny.py).
Rewriting those links for the site would leave two sets of paths to keep right; instead each
file goes into the site under its repository path: docs/use.md stays docs/use.md. The pages that
live outside docs/ (README.md as the home page, results/README.md, benchmarks/README.md) come in
through the nav of mkdocs.yml, whose entries are all repository paths, and the notebooks and
images through EXTRA below.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files, InclusionLevel

# Files outside docs/ that go into the site besides the nav's pages: every notebook (so one that
# the nav misses is reported, not left out), and what pages show or link to.
EXTRA = ("notebooks/*.ipynb", "benchmarks/results/*.png", "results/**/*.png", "examples/*.py")


def _nav_paths(nav) -> list[str]:
    """The page paths of a nav: a list of paths, {title: path} and {title: [section]} entries."""
    if isinstance(nav, str):
        return [] if "://" in nav else [nav]
    if isinstance(nav, dict):
        return [path for value in nav.values() for path in _nav_paths(value)]
    if isinstance(nav, list):
        return [path for item in nav for path in _nav_paths(item)]
    return []


# Before mkdocs-jupyter's on_files, which turns the notebooks this adds into pages.
@event_priority(50)
def on_files(files: Files, config: MkDocsConfig) -> Files:
    root = Path(config.config_file_path).parent
    docs_dir = Path(config.docs_dir).resolve()
    docs = docs_dir.relative_to(root.resolve()).as_posix()

    def repo_file(path: str, inclusion: InclusionLevel = InclusionLevel.UNDEFINED) -> File:
        return File(
            path, str(root), config.site_dir, config.use_directory_urls, inclusion=inclusion
        )

    site = Files([])
    for file in files:  # docs/ as collected by mkdocs (its exclusions apply), plus theme files
        in_docs = file.src_dir is not None and Path(file.src_dir).resolve() == docs_dir
        site.append(repo_file(f"{docs}/{file.src_uri}", file.inclusion) if in_docs else file)
    wanted = _nav_paths(config.nav or []) + [
        path.relative_to(root).as_posix() for pattern in EXTRA for path in root.glob(pattern)
    ]
    for path in wanted:
        # A nav entry that names no file is left out here, so mkdocs reports it.
        if path not in site.src_uris and (root / path).is_file():
            site.append(repo_file(path))
    return site
