"""Why one backend is faster: a profile of a timed cell, in the same categories for every framework.

After a timing cell's samples (never during them), ``bench run --profile`` runs a few more steps under the
backend's own profiler (`harness.contract.ClassifierModel.profile_steps`): the backend maps its framework's
op names to `categories.CATEGORIES`, reads the LSTM kernel that ran from the trace, and hands back a
`step_profile.StepProfile` with a Chrome trace. A backend without the hook is "not profiled".
"""
