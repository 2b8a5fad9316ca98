"""Ranking as a short pipeline of stages, each explainable.

1. candidates (:mod:`bot.ranking.candidates`): the best passages by words and, when the index has
   sentence vectors, the best by meaning over every passage: either can bring a passage in;
2. features (:mod:`bot.ranking.features`): named measures of each candidate (word score, share of
   the question it holds, cosine similarity, whether it opens the article the question names, ...);
3. scorer (:mod:`bot.ranking.model`): one linear function of those features, fitted on the
   training split (:mod:`bot.ranking.fit`) and shipped as JSON in ``bot/data/ranking-model.json``;
4. answer decision (:mod:`bot.ranking.model`): a calibrated probability that a passage answers,
   fitted the same way; below the chosen threshold the bot says it found nothing.

5. answer sentence (:mod:`bot.ranking.sentence`): the line of each shown passage that answers.

One coverage rule (:mod:`bot.ranking.coverage`), compiled once per question, serves the features,
the highlighted words and the answer sentence.
"""
