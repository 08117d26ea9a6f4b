from assay.cli.app import main

if __name__ == "__main__":  # a spawned child process (e.g. the --scrape scraper) imports this module again
    main()
