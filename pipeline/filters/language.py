"""Language identification: langdetect's profiles, corrected where they are known to fail.

Per document: one label (a langdetect code, or `unknown`) and a probability, as the signals
`language` and `language_score`. The probabilities come from langdetect's own profiles, read
by exact naive Bayes over every n-gram of the sample (deterministic, no seed needed) or, with
`language.method: langdetect`, by langdetect's seeded random walk (see langdetect_model.py).

1. Sample. The cost grows with the text, so a long document is read through `sample_windows`
   windows (start, middle, end) of `sample_chars` characters (default 3 x 500), cut at spaces.
   For text in one language this loses nothing measurable: 1,500 characters hold thousands of
   n-grams (benchmarks/filters.py: 55/55 long documents right either way, and still 55/55 with
   3 x 100 characters). What windows can miss is a language that appears only between them: a
   document that switches language is labelled by what its windows hold.
2. Script. Text without letters is `unknown` (score 0). Mostly-uppercase text is lowercased,
   because langdetect skips every all-capital word. CJK text is settled by script before
   langdetect's n-grams can confuse it (langdetect maps every Hangul syllable to one symbol and
   so reads Traditional Chinese as Korean): Kana means Japanese, Hangul means Korean, Han alone
   means Chinese, and Simplified vs Traditional is decided by characters that exist in only one
   of the two scripts.
3. Close pairs. langdetect's profiles confuse Spanish/Portuguese, Danish/Norwegian,
   Bulgarian/Macedonian, Slovene/Croatian and Dutch/Afrikaans on short texts. When its answer is
   one of such a pair, a second opinion counts the letters and frequent function words (and a
   few suffixes) that one language of the pair uses and the other does not; it decides when it
   has evidence and leaves langdetect's answer otherwise.
4. Short text. With fewer than `min_letters` letters (a CJK character counts as 3) the label is
   kept but the score is scaled down in proportion, so a two-word text never looks certain.
5. Languages without a profile (`detect_unknown`). A text mostly in a script none of the 55
   languages writes gets that script's language or `unknown` (language_script.py); a label must
   be in a script that holds half the text's letters; and a label whose profile the text's
   trigrams fit much worse than that language's own texts do becomes `unknown`
   (language_fit.py): Kyrgyz is not Russian. So does a label whose function words the text
   barely uses (language_function_words.py): Javanese is not Indonesian, Cebuano not Tagalog,
   though their letters fit. `unknown` has score 0.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np

from pipeline.config import LanguageConfig
from pipeline.documents import LANGUAGE, Document, FilterResult
from pipeline.filters.langdetect_model import METHODS, langdetect_profiles, naive_bayes_of_rows
from pipeline.filters.language_fit import ProfileFitTest, reference, trigram_fits, trigram_fits_of_grams
from pipeline.filters.language_function_words import FunctionWordTest
from pipeline.filters.language_script import label_fits_script, other_script_label, script_counts

UNKNOWN = "unknown"
CJK_WEIGHT = 3  # one Han, Kana or Hangul character carries about as much as three letters


# ---------------------------------------------------------------------------------------------
# sampling and script statistics
# ---------------------------------------------------------------------------------------------


def sample_windows(text: str, window_chars: int, windows: int) -> str:
    """The whole text when short, else `windows` evenly spaced windows cut at whitespace."""
    if len(text) <= window_chars * windows:
        return text
    step = (len(text) - window_chars) / max(windows - 1, 1)
    pieces = []
    for i in range(windows):
        start = round(i * step)
        end = start + window_chars
        if start > 0:  # begin after the first space so no window starts mid-word
            space = text.find(" ", start, start + 100)
            start = space + 1 if space >= 0 else start
        if end < len(text):
            space = text.rfind(" ", end - 100, end)
            end = space if space > start else end
        pieces.append(text[start:end])
    return "\n".join(pieces)


@dataclass
class ScriptCounts:
    letters: int = 0  # every alphabetic character, CJK included
    upper: int = 0
    lower: int = 0
    han: int = 0
    kana: int = 0
    hangul: int = 0
    blocks: np.ndarray | None = None  # characters per Unicode script block (language_script.script_counts), None for ASCII

    @property
    def cjk(self) -> int:
        return self.han + self.kana + self.hangul

    @property
    def weighted_letters(self) -> int:
        return self.letters - self.cjk + CJK_WEIGHT * self.cjk


KANA_RE = re.compile("[\u3040-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
HANGUL_RE = re.compile("[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
HAN_RE = re.compile("[\u4e00-\u9fff\u3400-\u4dbf\uf900-\ufaff\U00020000-\U0003134f]")


def count_scripts(text: str) -> ScriptCounts:
    # str methods mapped over the text run in C: several times faster than a Python loop
    letters = sum(map(str.isalpha, text))
    upper = sum(map(str.isupper, text))
    lower = sum(map(str.islower, text))
    if text.isascii():
        return ScriptCounts(letters=letters, upper=upper, lower=lower)
    return ScriptCounts(
        letters=letters,
        upper=upper,
        lower=lower,
        han=len(HAN_RE.findall(text)),
        kana=len(KANA_RE.findall(text)),
        hangul=len(HANGUL_RE.findall(text)),
    )


# ---------------------------------------------------------------------------------------------
# second opinions: orthographic evidence that one language of a close pair uses and the other not
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Evidence:
    letters: str = ""  # characters this language writes and its neighbour does not
    words: frozenset[str] = frozenset()  # frequent function words absent from the neighbour
    suffixes: tuple[str, ...] = ()  # word endings (words of 5+ letters) absent from the neighbour
    infixes: tuple[str, ...] = ()  # letter groups inside words absent from the neighbour
    spelling: re.Pattern[str] | None = None  # a spelling rule the neighbour's orthography forbids


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words and spellings from the languages' grammars, not from any evaluation text:
# each entry is frequent in its language and absent (or very rare) in the other of the pair.
CLOSE_PAIRS: dict[frozenset[str], dict[str, Evidence]] = {
    frozenset({"es", "pt"}): {
        "es": Evidence(letters="ñ¿¡", words=_words(
            "el los las del y ni pero muy es son están una con sin su sus le les nadie cuando también hay ha "
            "han fue en al hasta donde yo tiene tienen ningún ninguna ninguno cual cuales otro otra otros "
            "otras puede pueden mismo misma ella ellos ellas debe deben nosotros usted")),
        "pt": Evidence(letters="ãõçâêôà", words=_words(
            "do na nas em ao aos às um uma com sem seu sua seus suas pela pelas ou mais já nem ele eles ela "
            "elas foi tem têm pode podem onde até quando muito lhe lhes nenhum nenhuma qual quais outro outra "
            "outros outras deve devem são não é também ninguém isso isto")),
    },
    frozenset({"da", "no"}): {
        "da": Evidence(words=_words(
            "af mig dig sig hvad nogen noget efter blive bliver blev nu op ud mod uden gennem vore vores jer "
            "sådan hendes hende lige tage tager give giver sige siger havde gøre gør ret hinanden sit mit "
            "dit"), suffixes=("hed", "heden", "heder", "tion", "tionen", "tioner")),
        "no": Evidence(words=_words(
            "av meg deg seg hva noen noe etter bli blir ble mye opp ut mot uten gjennom våre vår dere slik "
            "hennes henne ta tar gi gir si sier hadde ha gjøre gjør rett hverandre sitt mitt ditt ikkje"),
            suffixes=("het", "heten", "heter", "sjon", "sjonen", "sjoner"),
            # Bokmål keeps a doubled consonant before another consonant (grunnlag, rettferdig,
            # vennskap, alltid), Danish writes it single (grundlag, retfærdig, venskab, altid);
            # s is left out because Danish compounds join with s (medlemsstat, opholdssted)
            spelling=re.compile(r"([bdfgklmnprtv])\1[bcdfghjklmnpqrstvwxz]")),
    },
    frozenset({"bg", "mk"}): {
        "bg": Evidence(letters="щъюяйь", words=_words(
            "от във в със с като че ще този тази това тези всеки всяка всички са нито между чрез няма никой "
            "тя един")),
        "mk": Evidence(letters="ѓќѕљњџј", words=_words(
            "од во со како дека ниту кој која кое кои овој оваа ова овие секој секоја сите меѓу преку треба "
            "нема некој никој таа тие тоа еден")),
    },
    frozenset({"sl", "hr"}): {
        "sl": Evidence(words=_words(
            "in ki so v kot tudi nihče vsak vsaka vsakdo lahko sme če kar kjer zaradi brez oziroma z vse vsi "
            "vseh kakor še že nobeden morajo imajo ker bil kaj")),
        "hr": Evidence(letters="ćđ", words=_words(
            "i su u kao također nitko svatko svaki svaka svako ako gdje što bez prema kod koji koja koje sve "
            "svi svih još već nijedan moraju imaju jer ili bio smije može")),
    },
    frozenset({"nl", "af"}): {
        "nl": Evidence(words=_words(
            "de niet zijn wordt worden zal zullen door tegen hij ik zij hun jij mij mijn zo zoals zonder "
            "zodat deze welke naar bij er heeft hebben kunnen moeten werd"), infixes=("ij", "sch")),
        "af": Evidence(letters="êŉ", words=_words(
            "nie 'n ’n hy sy ek jy vir sal hulle julle dié gewees sonder sodat soos hierdie baie watter asook")),
    },
}

# Simplified and Traditional forms of frequent characters, position by position: a character
# of one line never occurs in text written in the other script.
SIMPLIFIED = (
    "这个们为说时国会来对发学还进过后门东车长问间见开关实现点经动给应则该并义务权体认护种与约组织条让无论爱语"
    "员么样从当没机产业级区书买卖听头战万岁边电话请识读写谁难题风飞马鱼鸟龙钱银铁医药华历选举处乐亲观视觉计设议"
    "调资质费贸贵购纪线练结绝统继续维网罗劳势办压厂广庆张弹强归录怀态总恶惊忆执扩扫报担拥择据损换挥摄敌断显晓术"
    "杀杨极构标树检欢欧残毕气汉汤沟济浅测满灭灯灵热爷状独狱献环画畅疗尽监盘确礼离积称稳穷竞笔简类粮纯纳纸细终绍"
    "络综编缘罚职联声肃胜脑脚节艺范荣获虑虚补装规览讨训记讲许证评诉词试诗详误诸课谈谢贫责败货贴赛赵趋跃轮软转轻"
    "较辑输达运远连迟适递邮邻释针钟错锁键闭闲闻阅队阳阴阶际陆陈险随隐须顶项顺预领频颜饭馆驾验鸡"
)
TRADITIONAL = (
    "這個們為說時國會來對發學還進過後門東車長問間見開關實現點經動給應則該並義務權體認護種與約組織條讓無論愛語"
    "員麼樣從當沒機產業級區書買賣聽頭戰萬歲邊電話請識讀寫誰難題風飛馬魚鳥龍錢銀鐵醫藥華歷選舉處樂親觀視覺計設議"
    "調資質費貿貴購紀線練結絕統繼續維網羅勞勢辦壓廠廣慶張彈強歸錄懷態總惡驚憶執擴掃報擔擁擇據損換揮攝敵斷顯曉術"
    "殺楊極構標樹檢歡歐殘畢氣漢湯溝濟淺測滿滅燈靈熱爺狀獨獄獻環畫暢療盡監盤確禮離積稱穩窮競筆簡類糧純納紙細終紹"
    "絡綜編緣罰職聯聲肅勝腦腳節藝範榮獲慮虛補裝規覽討訓記講許證評訴詞試詩詳誤諸課談謝貧責敗貨貼賽趙趨躍輪軟轉輕"
    "較輯輸達運遠連遲適遞郵鄰釋針鐘錯鎖鍵閉閒聞閱隊陽陰階際陸陳險隨隱須頂項順預領頻顏飯館駕驗雞"
)
CHINESE = {"zh-cn": Evidence(letters=SIMPLIFIED), "zh-tw": Evidence(letters=TRADITIONAL)}

WORD_RE = re.compile(r"['’]?[^\W\d_]+(?:[-'’][^\W\d_]+)*")


def evidence_counts(text: str, evidence: dict[str, Evidence]) -> dict[str, int]:
    """How many letters, words, suffixes and infixes of each language's evidence `text` holds."""
    counts = dict.fromkeys(evidence, 0)
    words = WORD_RE.findall(text.lower())
    for lang, ev in evidence.items():
        n = sum(text.count(ch) for ch in ev.letters) if ev.letters else 0
        for word in words:
            if word in ev.words:
                n += 1
            elif ev.suffixes and len(word) >= 5 and word.endswith(ev.suffixes):
                n += 1
            elif ev.infixes and any(part in word for part in ev.infixes):
                n += 1
            elif ev.spelling is not None and ev.spelling.search(word):
                n += 1
        counts[lang] = n
    return counts


def second_opinion(text: str, probabilities: dict[str, float], evidence: dict[str, Evidence]) -> tuple[str, float] | None:
    """The language of a close pair the evidence favours, with its share of the pair's
    probability; None when the text holds no evidence either way."""
    counts = evidence_counts(text, evidence)
    total = sum(counts.values())
    if total == 0:
        return None
    # most evidence wins; langdetect's probability breaks ties
    best = max(counts, key=lambda lang: (counts[lang], probabilities.get(lang, 0.0)))
    if sum(1 for lang in counts if counts[lang] == counts[best]) > 1:
        return None
    pair_mass = sum(probabilities.get(lang, 0.0) for lang in evidence) or 1.0
    share = (counts[best] + 1) / (total + len(counts))  # Laplace: one word is not certainty
    return best, pair_mass * max(share, probabilities.get(best, 0.0) / pair_mass)


# ---------------------------------------------------------------------------------------------
# the identifier and the filter
# ---------------------------------------------------------------------------------------------


class LanguageIdentifier:
    """text -> (langdetect code or `unknown`, probability in [0, 1]); deterministic."""

    def __init__(
        self,
        sample_chars: int = 500,
        sample_windows: int = 3,
        min_letters: int = 20,
        method: str = "naive_bayes",
        detect_unknown: bool = True,
    ):
        if method not in METHODS:
            raise ValueError(f"unknown language method {method!r}: use one of {', '.join(METHODS)}")
        self.sample_chars = sample_chars
        self.sample_windows = sample_windows
        self.min_letters = min_letters
        self.method = method
        self.fit_test = ProfileFitTest() if detect_unknown else None
        self.function_word_test = FunctionWordTest(reference()) if detect_unknown else None

    def identify(self, text: str) -> tuple[str, float]:
        return self.identify_many([text])[0]

    def identify_many(self, texts: list[str]) -> list[tuple[str, float]]:
        """identify() for each text; the n-gram scoring of the batch runs as one numpy pass."""
        results: list[tuple[str, float]] = [(UNKNOWN, 0.0)] * len(texts)
        pending: list[tuple[int, str, ScriptCounts]] = []
        for i, text in enumerate(texts):
            sample = unicodedata.normalize("NFC", sample_windows(text, self.sample_chars, self.sample_windows))
            scripts = count_scripts(sample)
            if scripts.letters == 0:
                continue
            if scripts.upper > scripts.lower:
                sample = sample.lower()  # langdetect ignores all-capital words
            if self.fit_test is not None:
                scripts.blocks = script_counts(sample)
            by_script = other_script_label(sample, scripts.letters, scripts.blocks) if self.fit_test else None
            if by_script is not None:
                results[i] = self._scaled((by_script, 1.0), scripts)
            elif scripts.cjk * 2 > scripts.letters:
                results[i] = self._scaled(self._label_cjk(sample, scripts), scripts)
            else:
                pending.append((i, sample, scripts))
        samples = [sample for _, sample, _ in pending]
        grams = None
        if self.method == "naive_bayes":  # the grams once, for naive Bayes and the fit test alike
            profiles = langdetect_profiles()
            grams = [profiles.grams_of(sample) for sample in samples]
            batch = naive_bayes_of_rows([rows for rows, _ in grams])
        else:
            batch = METHODS[self.method](samples)
        labelled = [self._label(sample, probabilities) for sample, probabilities in zip(samples, batch)]
        if self.fit_test is not None:
            labelled = self._known_only(pending, labelled, grams)
        for (i, _, scripts), label_score in zip(pending, labelled):
            results[i] = self._scaled(label_score, scripts)
        return results

    def _known_only(
        self,
        pending: list[tuple[int, str, ScriptCounts]],
        labelled: list[tuple[str, float]],
        grams: list[tuple[list[int], int]] | None,
    ) -> list[tuple[str, float]]:
        """`unknown` for a label in another script than the text's letters, or whose profile the
        text does not fit (a language langdetect has no profile for)."""
        assert self.fit_test is not None
        labels = [label for label, _ in labelled]
        if grams is None:
            fits = trigram_fits([sample for _, sample, _ in pending], labels)
        else:
            fits = trigram_fits_of_grams(grams, labels)
        out = []
        assert self.function_word_test is not None
        for (_, sample, scripts), (label, score), fit in zip(pending, labelled, fits):
            if label != UNKNOWN and not (label_fits_script(label, scripts.letters, scripts.blocks) and self.fit_test.fits(label, fit)
                                         and self.function_word_test.fits(label, sample)):
                label, score = UNKNOWN, 0.0
            out.append((label, score))
        return out

    def _scaled(self, labelled: tuple[str, float], scripts: ScriptCounts) -> tuple[str, float]:
        label, score = labelled
        if label == UNKNOWN:
            return UNKNOWN, 0.0
        confidence = min(1.0, scripts.weighted_letters / self.min_letters) if self.min_letters > 0 else 1.0
        return label, round(min(1.0, max(0.0, score * confidence)), 6)

    @staticmethod
    def _label(sample: str, probabilities: dict[str, float]) -> tuple[str, float]:
        if not probabilities:
            return UNKNOWN, 0.0
        label = max(probabilities, key=probabilities.get)
        for pair, evidence in CLOSE_PAIRS.items():
            if label in pair:
                opinion = second_opinion(sample, probabilities, evidence)
                if opinion is not None:
                    return opinion
                break
        return label, probabilities[label]

    def _label_cjk(self, sample: str, scripts: ScriptCounts) -> tuple[str, float]:
        if scripts.kana * 10 >= scripts.cjk:  # running Japanese is a third or more kana
            candidates = ["ja"]
        elif scripts.hangul * 10 >= scripts.cjk * 3:  # Korean with Hanja is still mostly Hangul
            candidates = ["ko"]
        else:
            candidates = ["zh-cn", "zh-tw"]
        probabilities = METHODS[self.method]([sample], candidates)[0]
        if len(candidates) == 1:
            return candidates[0], probabilities.get(candidates[0], 1.0)
        opinion = second_opinion(sample, probabilities, CHINESE)
        if opinion is not None:
            return opinion
        # only characters both scripts share: langdetect picks, but either script is as likely
        label = max(probabilities, key=probabilities.get) if probabilities else "zh-cn"
        return label, 0.5


class LanguageFilter:
    """Labels every document; drops (reason `language`) only when `allowed` is set and the label
    is not allowed or its score is below `min_score`."""

    name = "language"

    def __init__(self, config: LanguageConfig):
        self.allowed = frozenset(config.allowed)
        self.min_score = config.min_score
        self.identifier = LanguageIdentifier(
            config.sample_chars, config.sample_windows, config.min_letters, config.method, config.detect_unknown
        )

    def filter(self, doc: Document) -> FilterResult:
        return self.filter_batch([doc])[0]

    def filter_batch(self, docs: list[Document]) -> list[FilterResult]:
        results: list[FilterResult] = []
        for doc, (label, score) in zip(docs, self.identifier.identify_many([doc.text for doc in docs])):
            doc.signals["language"] = label
            doc.signals["language_score"] = score
            # `unknown` (score 0) is kept only when listed in `allowed`: then min_score cannot apply
            keep = not self.allowed or (label in self.allowed and (score >= self.min_score or label == UNKNOWN))
            results.append(True if keep else (False, LANGUAGE))
        return results
