"""Product names by sysObjectID (``profiles/data/products.tsv``, written by
``scripts/products.py`` from vendors' PRODUCTS MIBs): a device whose profiles find no model
in what it answers is still named by the product its sysObjectID stands for
(1.3.6.1.4.1.9.1.1208 is Cisco's ``cat29xxStack``)."""

from __future__ import annotations

from chm_exporter.profiles.datatable import read_table

PRODUCTS_FILE = "products.tsv"


def product_names() -> dict[str, str]:
    """Every sysObjectID the table knows with its product name (read once)."""
    return read_table(PRODUCTS_FILE)


def product_of(sys_object_id: str) -> str | None:
    """The product name of a sysObjectID (None: the table does not know it)."""
    return product_names().get(sys_object_id.strip().lstrip("."))
