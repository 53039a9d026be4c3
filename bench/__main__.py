"""`python -m bench`: see bench/run.py and bench/README.md; `python -m bench search`: see
bench/search.py; `python -m bench web`: see bench/web.py; `python -m bench follow`: see
bench/follow.py."""

import sys

if sys.argv[1:2] == ["search"]:
    from bench.search import main as search_main

    raise SystemExit(search_main(sys.argv[2:]))
if sys.argv[1:2] == ["web"]:
    from bench.web import main as web_main

    raise SystemExit(web_main(sys.argv[2:]))

if sys.argv[1:2] == ["follow"]:
    from bench.follow import main as follow_main

    raise SystemExit(follow_main(sys.argv[2:]))

if sys.argv[1:2] == ["digest"]:  # bench/digest.py
    from bench.digest import main as digest_main

    raise SystemExit(digest_main(sys.argv[2:]))

from bench.run import main

raise SystemExit(main())
