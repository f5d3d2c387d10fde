"""`python -m models`: list the registered model families, their config fields and sizes.

Parameter counts are for the default config on a 40x40x1 input (the embedded dataset) and for
the tiny variant on 32x32x3, with a 10-way head. `--shape 320,320,3` changes the first.
"""

from __future__ import annotations

import argparse


def _params(model) -> int:
    import numpy as np

    return sum(int(np.prod(w.shape)) for w in model.trainable_weights)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models", description=__doc__)
    parser.add_argument("--shape", default="40,40,1", help="input H,W,C for the default config")
    args = parser.parse_args(argv)
    shape = tuple(int(v) for v in args.shape.split(","))

    import models

    for name in models.names():
        family = models.get(name)
        default = models.build(family.config_cls(), shape, 10)
        tiny = models.build(family.config_cls.tiny(), (32, 32, 3), 10)
        random = (
            " (random at inference)" if models.is_random_at_inference(family.config_cls()) else ""
        )
        print(f"{name}: {family.summary}{random}")
        print(f"  params: {_params(default):,} at {args.shape}; tiny {_params(tiny):,}")
        for field, value in family.config_fields().items():
            print(f"  model.{field} = {value!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
