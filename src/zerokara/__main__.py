from zerokara.cli import main

raise SystemExit(main())
