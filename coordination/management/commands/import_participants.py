from coordination import services
from coordination.management.cli import ImportCommand


class Command(ImportCommand):
    help = (
        "Import or update a network's participants (matched by e-mail) and their "
        "organizations from a CSV or XLSX table (all or nothing)."
    )
    importer = services.participants_import
