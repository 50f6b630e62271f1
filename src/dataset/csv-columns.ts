import { UsageError } from "../errors.js";
import type { DatasetType } from "./record-shape.js";

// Which columns of a CSV archive hold what: the Post ID, the author, the referenced Posts and
// users, and the geo fields. Recognised headers:
// - twarc-csv (twarc2 csv): id, author_id / author.id, referenced_tweets.{retweeted,quoted,replied_to}.id,
//   in_reply_to_user_id, retweeted_user_id, quoted_user_id, geo.*; a users CSV (id + username) too;
// - Hydrator: id, user_id, retweet_id, quote_id, in_reply_to_status_id, in_reply_to_user_id,
//   coordinates, place;
// - 4CAT: id, author_id (author is the username), quote_tweet_id, reply_to_tweet_id, long_lat, place_name;
// - rtweet before 1.0 (write_as_csv): status_id, user_id, retweet_status_id, quoted_status_id,
//   reply_to_status_id, retweet_user_id, quoted_user_id, reply_to_user_id, mentions_user_id,
//   place_*, country, country_code, geo_coords, coords_coords, bbox_coords, lat, lng; its ID
//   values carry a leading `x` (x1160404233650352001).

/** The Post ID column, in order of preference. */
const POST_ID = ["id", "id_str", "status_id", "tweet_id"];
/** The author (user ID) column, in order of preference. */
const AUTHOR_ID = ["author_id", "author.id", "user_id", "user.id_str", "from_user_id"];
/** Columns holding the ID of the Post a row retweets: a retweet of a deleted Post goes with it. */
const RETWEETED_POST = ["referenced_tweets.retweeted.id", "retweet_id", "retweet_status_id", "retweeted_status_id"];
/** Other referenced Posts (quoted, replied to): their IDs are listed by `ids`. */
const OTHER_POSTS = [
  "referenced_tweets.quoted.id",
  "referenced_tweets.replied_to.id",
  "quote_id",
  "quoted_status_id",
  "quote_tweet_id",
  "in_reply_to_status_id",
  "reply_to_status_id",
  "reply_to_tweet_id",
];
/** Columns holding the ID of the quoted Post, and of its author. */
const QUOTED_POST = ["referenced_tweets.quoted.id", "quote_id", "quoted_status_id", "quote_tweet_id"];
const QUOTED_USER = ["quoted_user_id"];
/**
 * A copy of the quoted Post inside the row (rtweet's quoted_text, quoted_screen_name…, 4CAT's
 * quote_body, quote_author…): emptied when the quoted Post (or its author) is removed, as the
 * embedded copy in a JSON record is. The ID columns themselves stay: the reference is not content.
 */
function isQuotedCopy(name: string): boolean {
  if (QUOTED_POST.includes(name) || QUOTED_USER.includes(name)) return false;
  return /^quoted_/.test(name) || /^quote_(body|author|images|videos|text)$/.test(name);
}

/** The author of the retweeted Post: with --type users, a retweet of a removed user's Post goes too. */
const RETWEETED_USER = ["retweeted_user_id", "retweet_user_id"];
/** Other user IDs a row holds (listed by `ids --type users`). */
const OTHER_USERS = ["in_reply_to_user_id", "quoted_user_id", "reply_to_user_id", "mentions_user_id"];
/** Geo columns, by exact name (prefix patterns below). */
const GEO_EXACT = new Set([
  "coordinates",
  "place",
  "geo",
  "lat",
  "lng",
  "lon",
  "long",
  "latitude",
  "longitude",
  "long_lat",
  "lat_long",
  "lat_lng",
  "geo_coords",
  "coords_coords",
  "bbox_coords",
  "place_name",
  "place_id",
]);
/** rtweet's place columns without a `place` prefix. */
const RTWEET_GEO = new Set(["country", "country_code"]);

export interface CsvColumns {
  /** Column index of the Post ID (-1: none). */
  post: number;
  /** Column index of the author's user ID (-1: none). */
  author: number;
  retweetedPost: number[];
  otherPosts: number[];
  retweetedUser: number[];
  otherUsers: number[];
  quotedPost: number[];
  quotedUser: number[];
  /** The row's copy of the Post it quotes (emptied when that Post or its author is removed). */
  quotedCopy: number[];
  /** Columns emptied by a scrub. */
  geo: number[];
  /** Column names (decoded header). */
  names: string[];
  /**
   * No column holds this reading's key (read for Posts, a users CSV; read for users with
   * `optionalAuthor`, a CSV without an author column): no ID is taken, every row is kept as it is.
   */
  noKey?: boolean;
}

/** What the user asked for with --id-column / --user-column. */
export interface CsvColumnChoice {
  idColumn?: string;
  userColumn?: string;
  /**
   * sync reads every file for users as well: a CSV with no author column then has no user to
   * check (its rows are judged by their Post IDs), instead of being an error. Not a CLI flag.
   */
  optionalAuthor?: boolean;
}

/** Is this decoded first line a header with a column `compliant` can take IDs from? */
export function isCsvHeader(names: readonly string[], choice: CsvColumnChoice = {}): boolean {
  const known = new Set([...POST_ID, ...AUTHOR_ID, ...(choice.idColumn ? [choice.idColumn] : []), ...(choice.userColumn ? [choice.userColumn] : [])]);
  return names.some((n) => known.has(n));
}

function indexes(names: readonly string[], wanted: readonly string[]): number[] {
  const out: number[] = [];
  for (const w of wanted) {
    const i = names.indexOf(w);
    if (i >= 0) out.push(i);
  }
  return out;
}

function first(names: readonly string[], wanted: readonly string[]): number {
  for (const w of wanted) {
    const i = names.indexOf(w);
    if (i >= 0) return i;
  }
  return -1;
}

function listed(names: readonly string[]): string {
  const shown = names.slice(0, 8).map((n) => JSON.stringify(n)).join(", ");
  return names.length > 8 ? `${shown}, …` : shown;
}

/**
 * The columns of a header, for `type`. The column the run needs (the Post ID for tweets, the
 * author for users) must be there: a missing one (named with --id-column/--user-column, or not
 * found among the known names) is a UsageError naming the header's columns.
 */
export function csvColumns(names: readonly string[], type: DatasetType, choice: CsvColumnChoice, dataset: string): CsvColumns {
  const rtweet = names.includes("status_id");
  let post = -1;
  if (choice.idColumn !== undefined) {
    post = names.indexOf(choice.idColumn);
    if (post < 0) throw new UsageError(`--id-column ${JSON.stringify(choice.idColumn)} is not a column of ${dataset} (its header has ${listed(names)}); nothing was written.`);
  } else {
    post = first(names, POST_ID);
  }
  let author = -1;
  if (choice.userColumn !== undefined) {
    author = names.indexOf(choice.userColumn);
    if (author < 0) throw new UsageError(`--user-column ${JSON.stringify(choice.userColumn)} is not a column of ${dataset} (its header has ${listed(names)}); nothing was written.`);
  } else {
    author = first(names, AUTHOR_ID);
    // A users CSV (twarc-csv `--input-data-type users`): each row is a user, its own `id`.
    if (author < 0 && (names.includes("username") || names.includes("screen_name")) && !names.includes("text")) {
      author = post;
      // Its `id` is a user's, not a Post's: Post results never touch its rows (as for JSON user
      // objects), unless --id-column says which column holds Post IDs.
      if (type === "tweets" && choice.idColumn === undefined) return { ...columnsOf(names, rtweet, -1, author), noKey: true };
    }
  }
  if (type === "tweets" && post < 0) {
    throw new UsageError(`no Post ID column in the header of ${dataset} (it has ${listed(names)}); name it with --id-column <name>.`);
  }
  if (type === "users" && author < 0) {
    if (choice.optionalAuthor && choice.userColumn === undefined) return { ...columnsOf(names, rtweet, post, -1), noKey: true };
    throw new UsageError(`no user ID column in the header of ${dataset} (it has ${listed(names)}); name it with --user-column <name>.`);
  }
  return columnsOf(names, rtweet, post, author);
}

function columnsOf(names: readonly string[], rtweet: boolean, post: number, author: number): CsvColumns {
  const geo: number[] = [];
  names.forEach((n, i) => {
    if (GEO_EXACT.has(n) || /^(geo|place|coordinates|coords)[._]/.test(n) || (rtweet && RTWEET_GEO.has(n))) geo.push(i);
  });
  return {
    post,
    author,
    retweetedPost: indexes(names, RETWEETED_POST),
    otherPosts: indexes(names, OTHER_POSTS),
    retweetedUser: indexes(names, RETWEETED_USER),
    otherUsers: indexes(names, OTHER_USERS),
    quotedPost: indexes(names, QUOTED_POST),
    quotedUser: indexes(names, QUOTED_USER),
    quotedCopy: names.flatMap((n, i) => (isQuotedCopy(n) ? [i] : [])),
    geo,
    names: [...names],
  };
}

/**
 * The ID in a field's text: digits, or rtweet's `x` + digits. Empty and `NA` are no ID
 * (undefined); anything else is null (not an ID).
 */
export function csvId(text: string): string | undefined | null {
  const t = text.trim();
  if (t === "" || t === "NA") return undefined;
  const digits = t.charCodeAt(0) === 120 /* x */ ? t.slice(1) : t;
  return /^[0-9]{1,19}$/.test(digits) ? digits : null;
}

/** The IDs of a list field (rtweet writes lists space-separated, e.g. `x12 x34`); non-IDs are skipped. */
export function csvIdList(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(/[\s,;]+/)) {
    const id = csvId(part.replace(/^[["']+|[\]"']+$/g, ""));
    if (id) out.push(id);
  }
  return out;
}
