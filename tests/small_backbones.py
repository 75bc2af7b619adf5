"""Small options per registered backbone, shared by the tests that run every backbone (smooth
activations where a backbone has a choice, so second derivatives are not zero)."""

#: Small options per backbone, for speed; unknown (future) backbones use their defaults.
SMALL = {
    "siren": dict(width=24, depth=2),
    "ff": dict(m=12, sigma=2.0, width=24, depth=2, activation="softplus"),
    "mlp": dict(width=24, depth=2, activation="tanh"),
    "scone": dict(width=24, omegas=(30.0, 10.0)),
    "pins": dict(levels=3, m=12, width=16, depth=2, activation="tanh", progressive=True),
    "sape": dict(m=12, width=24, depth=2, activation="softplus", res=6),
    "finer": dict(width=24, depth=2),
    "wire": dict(width=24, depth=2),
    "gauss": dict(width=24, depth=2, scale=3.0),
    "nerf": dict(width=24, depth=2, levels=3, direction_levels=2, activation="softplus"),
    # a cubic B-spline kernel (C²: second derivatives exist) with dense and hashed levels in 2-D and 3-D
    "hashgrid": dict(levels=4, features=2, log2_table=8, base_resolution=3, max_resolution=40, width=16, depth=2,
                     interpolation="cubic", activation="softplus", init_scale=0.1),
    "ngp": dict(levels=3, log2_table=8, base_resolution=3, max_resolution=12, width=16, geometry=4,
                colour_depth=1, direction_levels=2, interpolation="cubic", activation="softplus",
                init_scale=0.1),
    "nex": dict(width=24, depth=2, levels=3, basis=3, basis_width=8, direction_levels=2, activation="softplus"),
}
