from libcli.cli import main

main()
