"""A module whose own import fails, for the tests of the command line."""

import a_module_that_does_not_exist  # type: ignore[import-not-found]  # noqa: F401
