"""`python -m bench`: see bench/run.py and bench/README.md; `python -m bench search`: see
bench/search.py; `python -m bench web`: see bench/web.py; `python -m bench follow`: see
bench/follow.py; `python -m bench floor`: see bench/search_floor.py; `python -m bench categories`:
see bench/categories.py; `python -m bench fusion`: see bench/search_fusion.py;
`python -m bench devset`: see bench/search_devset.py; `python -m bench signals`: see
bench/search_signals.py; `python -m bench passages`: see bench/search_passages.py;
`python -m bench recsys`, `recsys-devset`, `recsys-variants`, `foryou-model`: see
bench/recsys.py, bench/recsys_devset.py, bench/recsys_variants.py, bench/foryou.py;
`python -m bench foryou`: see bench/foryou_site.py; `python -m bench similar`: see
bench/similar.py."""

import sys

if sys.argv[1:2] == ["search"]:
    from bench.search import main as search_main

    raise SystemExit(search_main(sys.argv[2:]))
if sys.argv[1:2] == ["web"]:
    from bench.web import main as web_main

    raise SystemExit(web_main(sys.argv[2:]))

if sys.argv[1:2] == ["floor"]:
    from bench.search_floor import main as floor_main

    raise SystemExit(floor_main(sys.argv[2:]))
if sys.argv[1:2] == ["fusion"]:
    from bench.search_fusion import main as fusion_main

    raise SystemExit(fusion_main(sys.argv[2:]))
if sys.argv[1:2] == ["signals"]:
    from bench.search_signals import main as signals_main

    raise SystemExit(signals_main(sys.argv[2:]))
if sys.argv[1:2] == ["passages"]:
    from bench.search_passages import main as passages_main

    raise SystemExit(passages_main(sys.argv[2:]))
if sys.argv[1:2] == ["devset"]:
    from bench.search_devset import main as devset_main

    raise SystemExit(devset_main(sys.argv[2:]))
if sys.argv[1:2] == ["similar"]:
    from bench.similar import main as similar_main

    raise SystemExit(similar_main(sys.argv[2:]))
if sys.argv[1:2] == ["categories"]:
    from bench.categories import main as categories_main

    raise SystemExit(categories_main(sys.argv[2:]))

if sys.argv[1:2] == ["recsys"]:
    from bench.recsys import main as recsys_main

    raise SystemExit(recsys_main(sys.argv[2:]))
if sys.argv[1:2] == ["recsys-variants"]:
    from bench.recsys_variants import main as recsys_variants_main

    raise SystemExit(recsys_variants_main(sys.argv[2:]))
if sys.argv[1:2] == ["recsys-devset"]:
    from bench.recsys_devset import main as recsys_devset_main

    raise SystemExit(recsys_devset_main(sys.argv[2:]))
if sys.argv[1:2] == ["foryou-model"]:
    from bench.foryou import main as foryou_main

    raise SystemExit(foryou_main(sys.argv[2:]))

if sys.argv[1:2] == ["foryou"]:
    from bench.foryou_site import main as foryou_site_main

    raise SystemExit(foryou_site_main(sys.argv[2:]))

if sys.argv[1:2] == ["follow"]:
    from bench.follow import main as follow_main

    raise SystemExit(follow_main(sys.argv[2:]))

if sys.argv[1:2] == ["digest"]:  # bench/digest.py
    from bench.digest import main as digest_main

    raise SystemExit(digest_main(sys.argv[2:]))

from bench.run import main

raise SystemExit(main())
