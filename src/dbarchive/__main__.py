from dbarchive.cli import main

main()
