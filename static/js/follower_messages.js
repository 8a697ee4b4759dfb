// @ts-check
// What a room's follower may send. A follower watches read-only: only the hello's
// `follower_messages` go out (the server would refuse the rest as `forbidden`); one a person
// asked for gets a hint, the page's automatic ones (an inspection, a state for a share link,
// the presenter's view) are dropped quietly.

const AUTOMATIC = new Set(["inspect", "view", "ui"]);

/**
 * The page's `send`: `conn.send(msg)` unless this tab follows a room and `msg` is not a
 * follower's; true when it went out.
 * @param {{role: string, followerMessages: Set<string>}} state the store's state (read at each send)
 * @param {(action: any) => void} dispatch
 * @param {{send(msg: any): boolean}} conn
 * @returns {(msg: {type: string}) => boolean}
 */
export function followerGate(state, dispatch, conn) {
  return (msg) => {
    if (state.role === "follower" && !state.followerMessages.has(msg.type)) {
      if (!AUTOMATIC.has(msg.type)) {
        dispatch({ type: "toast", kind: "info", text: "You are following the presenter: the controls are read-only. "
          + "Fork to experiment on your own copy." });
      }
      return false;
    }
    return conn.send(msg);
  };
}
