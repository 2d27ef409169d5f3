from coordination import services
from coordination.management.cli import ImportCommand


class Command(ImportCommand):
    help = "Import or update a network's regions from a CSV or XLSX table (all or nothing)."
    importer = services.regions_import
