"""A small lexicon classifier of sentiment for Chinese and English comments.

Used only when the caller sends no sentiment of its own. Negative words weigh
more than positive ones: customer service would rather look at a neutral
comment twice than miss a complaint (Ch. 4.3). A negator just before a
positive word ("不好", "not good") counts as negative; sarcasm markers
("呵呵", "thanks for nothing") count as negative whatever else is said.
Every verdict names `CLASSIFIER_VERSION`, recorded with the interaction;
change the version whenever the lexicon changes. Precision and recall on the
labelled set (tests/data/sentiment_labelled.jsonl) are in docs/interactions.md.
"""

from __future__ import annotations

import re

from nm_workflow.domain.interaction_values import Sentiment

CLASSIFIER_VERSION = "lexicon-1"

NEGATIVE_ZH = (
    "差评", "太差", "很差", "真差", "垃圾", "退款", "退货", "投诉", "失望", "坑", "骗", "欺骗", "忽悠",
    "无语", "恶心", "生气", "愤怒", "气死", "糟糕", "烂", "难用", "难吃", "闪退", "崩溃", "卡死", "故障",
    "坏了", "破损", "漏发", "发错", "假货", "质量问题", "不满", "后悔", "没人回", "没人理", "不回复",
    "太慢", "好慢", "等了", "还没到", "没收到", "不能用", "用不了", "打不开", "扣费", "乱收费", "霸王",
    "黑心", "差劲", "离谱", "过分", "敷衍", "态度恶劣", "态度差", "智商税", "翻车", "踩雷", "避雷", "拉黑",
    "取关", "再也不", "别买", "不推荐", "太贵", "涨价", "被坑", "维权", "12315", "客服呢", "有问题",
    "没更新", "踢皮球", "极差", "凉了", "洒了", "二手", "还好意思", "占线", "过敏", "弄丢", "丢了", "没人来",
    "不对", "装不上", "从来没有", "不认", "不行", "拖了", "怎么还", "这样对待", "不退", "不提醒",
    "直接扣", "没解决", "就这", "收运费", "反映了", "爱答不理", "加载不出", "心塞", "还没回复", "没到账",
    "没有回复", "不如", "没有想象中", "到底", "为什么还", "没法用", "掉色", "少发", "缺货不通知",
)  # fmt: skip
POSITIVE_ZH = (
    "好评", "喜欢", "赞", "棒", "满意", "感谢", "谢谢", "支持", "不错", "优秀", "爱了", "好用", "推荐",
    "惊喜", "给力", "完美", "开心", "好看", "好吃", "划算", "实惠", "贴心", "专业", "及时", "靠谱",
    "期待", "厉害", "漂亮", "好评如潮", "回购", "超值", "太好了", "好棒", "可爱", "辛苦了",
)  # fmt: skip
NEGATORS_ZH = ("不", "没", "没有", "别", "不太", "不怎么", "一点也不", "并不")
SARCASM_ZH = ("呵呵", "真是谢谢", "谢谢你们啊", "服了", "醉了", "真行", "可真是", "好一个")

NEGATIVE_EN = frozenset(
    {
        "awful", "terrible", "horrible", "worst", "bad", "broken", "refund", "scam", "fraud", "disappointed",
        "disappointing", "angry", "useless", "rubbish", "garbage", "trash", "hate", "hated", "slow", "late",
        "missing", "never", "ripoff", "rip-off", "overpriced", "crash", "crashes", "crashed", "bug", "buggy",
        "fake", "complaint", "complain", "unacceptable", "rude", "ignored", "wrong", "damaged", "faulty",
        "defective", "poor", "waste", "annoying", "annoyed", "furious", "disgusting", "sucks", "lousy",
        "misleading", "unhappy", "lost", "cancel", "cancelled", "unsubscribe", "delay", "delayed", "stuck",
        "fail", "failed", "fails", "failure", "shame", "pathetic",
    }
)  # fmt: skip
POSITIVE_EN = frozenset(
    {
        "good", "great", "love", "loved", "awesome", "excellent", "amazing", "thanks", "thank", "helpful",
        "happy", "nice", "perfect", "best", "fantastic", "wonderful", "recommend", "recommended", "fast",
        "beautiful", "cool", "brilliant", "superb", "pleased", "glad", "impressive", "smooth", "enjoy",
        "enjoyed", "like", "liked", "favourite", "favorite", "well", "worth", "congrats", "congratulations",
    }
)  # fmt: skip
NEGATORS_EN = frozenset(
    {
        "not", "no", "never", "isn't", "wasn't", "don't", "doesn't", "didn't", "can't", "cannot", "won't",
        "hardly",
    }
)  # fmt: skip
NEGATIVE_PHRASES_EN = (
    "no reply", "no response", "stopped working", "charged me twice", "charged twice", "nobody",
    "does not exist", "doesn't exist", "on hold", "can't log in", "cannot log in", "took forever",
    "expected more", "without any explanation", "fix this", "bait and switch", "never came", "never arrived",
    "still no", "not working", "doesn't work", "does not work", "waiting for", "overcharged", "leaks",
    "unbearable", "dirty", "deleted", "locked", "was open", "not what", "wrong size", "too expensive",
)  # fmt: skip
SARCASM_EN = ("thanks for nothing", "yeah right", "great job breaking", "oh great", "just great", "/s",
              "so helpful, not", "as usual", "still waiting", "once again")  # fmt: skip

NEGATIVE_EMOJI = ("😡", "🤬", "👎", "💩", "😤", "😠", "😞", "😢", "😭", "🙄", "😒", "💔", "🤮", "😩", "😑")
POSITIVE_EMOJI = ("👍", "❤", "😍", "😊", "🎉", "🥰", "👏", "💯", "🙏", "😄", "😁", "🌟", "✨", "💪", "🔥")

_WORD = re.compile(r"[a-z][a-z'\-]*")
_NEGATIVE_WEIGHT = 1.5


def classify(text: str) -> Sentiment:
    """negative / neutral / positive for a comment in Chinese, English or both (emoji count too)."""
    lowered = text.lower()
    if any(marker in lowered for marker in (*SARCASM_ZH, *SARCASM_EN)):
        return Sentiment.NEGATIVE
    negative, positive = _score_chinese(lowered)
    negative += sum(lowered.count(phrase) for phrase in NEGATIVE_PHRASES_EN)
    en_negative, en_positive = _score_english(lowered)
    negative += en_negative + sum(lowered.count(e) for e in NEGATIVE_EMOJI)
    positive += en_positive + sum(lowered.count(e) for e in POSITIVE_EMOJI)
    if negative == positive == 0:
        return Sentiment.NEUTRAL
    if negative * _NEGATIVE_WEIGHT >= positive:
        return Sentiment.NEGATIVE
    return Sentiment.POSITIVE


def _score_chinese(text: str) -> tuple[int, int]:
    negative = sum(text.count(word) for word in NEGATIVE_ZH)
    positive = 0
    for word in POSITIVE_ZH:
        for found in re.finditer(re.escape(word), text):
            before = text[max(0, found.start() - 4) : found.start()]
            if any(before.endswith(negator) for negator in NEGATORS_ZH):
                negative += 1
            else:
                positive += 1
    return negative, positive


def _score_english(text: str) -> tuple[int, int]:
    words = _WORD.findall(text)
    negative = positive = 0
    for position, word in enumerate(words):
        negated = any(w in NEGATORS_EN for w in words[max(0, position - 2) : position])
        if word in NEGATIVE_EN:
            if negated:  # "not bad"
                positive += 1
            else:
                negative += 1
        elif word in POSITIVE_EN:
            if negated:
                negative += 1
            else:
                positive += 1
    return negative, positive
