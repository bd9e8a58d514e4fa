"""Speaker-independent downstream evaluation of a labelled speech corpus (SERAB's protocol).

A corpus (a table, or a public dataset in its native layout) becomes clips with a label and a true
speaker; splits keep every speaker on one side; classifiers are tuned on validation speakers only.
"""
