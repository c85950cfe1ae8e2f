from s3migrate.cli.main import main

main()
