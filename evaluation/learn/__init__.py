"""Learned routing, offline: train routers and cascade scorers on outcomes, evaluate them.

    outcomes   the outcomes format (JSON Lines, prompt × model), read with line-numbered errors
    features   many examples as one sparse matrix, with the router's own feature function
    train      fit and save a router (score and cost per model) or a cascade scorer
    train_prior  fit and save a prior-anchored router: the per-task prior plus the prompt's
               features, its regularisation chosen on a validation split
    prior_offset the per-task prior and the logistic regression that starts from it
    per_task     the same with each task its own n-grams and its own regularisation
    baselines  predictions of the learned router, a per-task prior, TF-IDF + LR, the oracle
    metrics    AIQ, convex hulls, PGR, APGR, CPT
    evaluate   sweep each router's knob on held-out outcomes; the cascade's curve
    report     the evaluation as a Markdown table
    plot       the evaluation as a PNG (matplotlib, optional)
    synthetic  a four-model outcome set whose prompts decide which model is good enough
    from_eval  outcomes from an `llmrouter eval` run

What a worker needs at decision time lives in `llmrouter.router.learned`.
"""
