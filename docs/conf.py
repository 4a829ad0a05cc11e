"""
Sphinx configuration of the wsroute documentation.

The pages are Markdown, read by myst-parser; the reference is generated from
the docstrings by autodoc, with napoleon for their Google-style sections.
``python3 tasks.py test`` builds the site with warnings as errors and
nitpicky cross-references, so every link must resolve. Nothing here needs
the network: there is no intersphinx.

"""

import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # document this checkout, installed or not

import wsroute  # noqa: E402 (needs the path above)

project = "wsroute"
author = "The wsroute authors"
copyright = "the wsroute authors"
version = release = wsroute.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

source_suffix = {".md": "markdown"}
exclude_patterns = ["_build"]
root_doc = "index"

# Markdown: anchors for ## and ### headings, so that links such as
# server.md#close-codes resolve.
myst_heading_anchors = 3

# Docstrings: Google style, as ruff's D rules check them.
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
autodoc_member_order = "bysource"
autodoc_preserve_defaults = True
# The docstrings say what each argument is. Annotations stay out of the pages:
# they name type variables and classes imported only for type checkers, which
# Sphinx can't resolve.
autodoc_typehints = "none"

# Every cross-reference must resolve (-n), and a reference to wsroute that
# doesn't fails the build. Without intersphinx, references to websockets,
# werkzeug, redis-py and the standard library can't resolve: only those are ignored,
# by module, and they show as plain text.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(websockets|werkzeug|redis)(\..+)?"),
    (r"py:.*", r"(asyncio|collections\.abc|hmac|json|ssl)\..+"),
    (r"py:mod", r"logging"),
]

html_theme = "furo"
html_title = f"wsroute {release}"


def resolve_exported_name(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """
    Resolve a bare name that wsroute exports, such as ``Connection``.

    The type aliases refer to the connection as ``"Connection"``, imported only
    for type checkers, and autodoc shows it so in "alias of ...": point it at
    ``wsroute.Connection``. Any other missing reference stays missing.

    """
    target = node.get("reftarget", "")
    if node.get("refdomain") != "py" or target not in wsroute.__all__:
        return None
    return env.domains["py"].resolve_xref(
        env,
        node["refdoc"],
        app.builder,
        node["reftype"],
        f"wsroute.{target}",
        node,
        contnode,
    )


def setup(app: Any) -> None:
    """Connect the resolver above."""
    app.connect("missing-reference", resolve_exported_name)
