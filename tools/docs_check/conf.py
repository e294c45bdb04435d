"""The minimal Sphinx configuration of the docs check (sphinx-build -c tools/docs_check).

Upstream's docs/source-pytorch/conf.py, less what needs the network or packages that are not
on PyPI: the lai-sphinx-theme (here Sphinx's `basic` theme), intersphinx (replaced by the
resolver of tools.docs_check.ext), and the extensions that only matter for notebooks, Markdown
pages, or the HTML around the content (nbsphinx, myst_parser, copybutton, viewcode, coverage).
The settings that change what Sphinx warns about come from the tree's own conf.py when it has
one (nitpick_ignore, suppress_warnings, the autodoc options); `nitpicky` is always on.
"""
from tools.docs_check.ext import load_config

_config = load_config()

project = "PyTorch Lightning"
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.todo",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.autosectionlabel",
    "sphinx.ext.mathjax",
    "sphinxcontrib.video",
    "sphinx_autodoc_typehints",
    "sphinx_paramlinks",
    "tools.docs_check.ext",
]
root_doc = _config["root_doc"]
include_patterns = _config["include_patterns"]
language = "en"
html_theme = "basic"
nitpicky = True
docs_check_api_entries = _config["api_entries"]
# upstream's values for the settings below, replaced by the tree's own where it has them
suppress_warnings = ["autosectionlabel.*"]
nitpick_ignore: list = []
autosummary_generate = True
autodoc_member_order = "groupwise"
autoclass_content = "both"
autodoc_default_options = {
    "members": True,
    "methods": True,
    "special-members": "__call__",
    "exclude-members": "_abc_impl",
    "show-inheritance": True,
}
autosectionlabel_prefix_document = True
todo_include_todos = True
doctest_test_doctest_blocks = ""
globals().update(_config["upstream"])
nitpick_ignore = [tuple(entry) for entry in nitpick_ignore]
