/* Scoring finished trajectories: the final answer is extracted from the model's text and compared with the truth
 * (src/reward); the reward, answer and no-answer flag go on the trajectory. */
#ifndef RETOOL_ROLLOUT_SCORE_H
#define RETOOL_ROLLOUT_SCORE_H

#include "base/error.h"
#include "reward/reward.h"
#include "rollout/trajectory.h"

/* Sets t->truth (a copy), t->answer, t->reward and ROLLOUT_FLAG_NO_ANSWER from t->response_text. */
rt_status rollout_score(rollout_trajectory *t, const char *truth, const reward_options *opt, rt_error *err);

#endif
