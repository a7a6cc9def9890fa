from sercross.cli import main

main()
