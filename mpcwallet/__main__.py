from mpcwallet.cli.main import main

raise SystemExit(main())
