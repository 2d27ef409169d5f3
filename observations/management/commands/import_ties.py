from coordination.management.cli import ImportCommand
from observations import services


class Command(ImportCommand):
    help = (
        "Import or update a network's collaboration ties (matched by the unordered pair, "
        "kind and start) from a CSV or XLSX table (all or nothing)."
    )
    importer = services.ties_import
