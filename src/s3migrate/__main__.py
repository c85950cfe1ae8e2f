from s3migrate.cli.main import run

run()
