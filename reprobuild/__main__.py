from reprobuild.cli import main

main()
