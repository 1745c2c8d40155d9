//! Role and affiliation changes and room destruction, with Prosody's
//! permission rules (`set_role`, `set_affiliation`, `destroy` of
//! `muc.lib.lua`, plus `component_admins_as_room_owners`).

use minidom::Element;

use super::room::{Room, XParts, status};
use super::{Affiliation, MucCtx, Role, Whois};
use crate::sim::stanza::{NS_CLIENT, NS_MUC_USER, bare, name, split_jid};

impl Room {
    /// `set_role`: `actor` `None` is the server itself (no permission
    /// checks). `Role::None` kicks, with status 307.
    pub(crate) fn set_role(
        &mut self,
        ctx: &mut MucCtx<'_>,
        actor: Option<&str>,
        occupant_jid: &str,
        role: Role,
        reason: Option<&str>,
    ) -> Result<(), (&'static str, &'static str)> {
        let Some(i) = self.index_by_nick(occupant_jid) else {
            return Err(("modify", "item-not-found"));
        };
        if let Some(actor) = actor {
            let actor_aff = self.affiliation(actor);
            let target = &self.occupants[i];
            if actor_aff < self.affiliation(&target.bare_jid) {
                return Err(("cancel", "not-allowed"));
            }
            if (target.role == Role::Moderator || role == Role::Moderator)
                && !matches!(actor_aff, Affiliation::Owner | Affiliation::Admin)
            {
                return Err(("cancel", "not-allowed"));
            }
            let actor_is_moderator = self
                .index_by_real(actor)
                .is_some_and(|a| self.occupants[a].role == Role::Moderator);
            if !actor_is_moderator {
                return Err(("cancel", "not-allowed"));
            }
        }
        let x = if role == Role::None {
            vec![status(307)]
        } else {
            Vec::new()
        };
        let prev = self.occupants[i].role;
        let occupant = if role == Role::None {
            let mut o = self.occupants.remove(i);
            o.role = Role::None;
            o
        } else {
            self.occupants[i].role = role;
            self.occupants[i].clone()
        };
        self.publicise(ctx, &occupant, &XParts::both(x), actor, reason, prev);
        Ok(())
    }

    /// `set_affiliation`; `actor` `None` is the server itself.
    pub(crate) fn set_affiliation(
        &mut self,
        ctx: &mut MucCtx<'_>,
        actor: Option<&str>,
        jid: &str,
        affiliation: Affiliation,
        reason: Option<&str>,
    ) -> Result<(), (&'static str, &'static str)> {
        // component_admins_as_room_owners: admins stay owners.
        if affiliation != Affiliation::Owner && ctx.is_admin(jid) {
            return Err(("modify", "not-acceptable"));
        }
        let (node, host, _) = split_jid(jid);
        let target_bare = bare(jid).to_owned();
        let host_only = node.is_none();
        let target = self.affiliations.get(&target_bare).copied();
        let is_downgrade = target.unwrap_or(Affiliation::None) > affiliation;
        if let Some(actor) = actor {
            let actor_aff = self.affiliation(actor);
            if actor_aff == Affiliation::Owner {
                if bare(actor) == target_bare && is_downgrade {
                    let other_owner = self
                        .affiliations
                        .iter()
                        .any(|(j, a)| *a == Affiliation::Owner && *j != target_bare);
                    if !other_owner {
                        return Err(("cancel", "conflict"));
                    }
                }
            } else if matches!(affiliation, Affiliation::Owner | Affiliation::Admin)
                || actor_aff != Affiliation::Admin
                || matches!(target, Some(Affiliation::Owner) | Some(Affiliation::Admin))
            {
                return Err(("cancel", "not-allowed"));
            }
        }
        if affiliation == Affiliation::None {
            self.affiliations.remove(&target_bare);
        } else {
            self.affiliations.insert(target_bare.clone(), affiliation);
        }
        let role = Self::default_role(affiliation);
        let mut updated = Vec::new();
        let mut i = 0;
        while i < self.occupants.len() {
            let o = &self.occupants[i];
            let matches = o.bare_jid == target_bare
                || (host_only
                    && affiliation == Affiliation::Outcast
                    && split_jid(&o.bare_jid).1 == host);
            if !matches {
                i += 1;
                continue;
            }
            let old = o.role;
            if o.role != role && (is_downgrade || o.role < role) {
                self.occupants[i].role = role;
            }
            if self.occupants[i].role == Role::None {
                updated.push((self.occupants.remove(i), old));
            } else {
                updated.push((self.occupants[i].clone(), old));
                i += 1;
            }
        }
        let mut x = Vec::new();
        if role == Role::None {
            x.push(status(if affiliation == Affiliation::Outcast {
                301
            } else {
                321
            }));
        }
        let semi_anonymous = self.whois == Whois::Moderators;
        if updated.is_empty() {
            let item = Element::builder("item", NS_MUC_USER)
                .attr(name("affiliation"), affiliation.as_str())
                .attr(name("jid"), target_bare.as_str())
                .build();
            let mut x_el = Element::builder("x", NS_MUC_USER).build();
            for c in &x {
                x_el.append_child(c.clone());
            }
            x_el.append_child(item);
            let min = if semi_anonymous {
                Role::Moderator
            } else {
                Role::None
            };
            for o in self.occupants.iter().filter(|o| o.role >= min) {
                let msg = Element::builder("message", NS_CLIENT)
                    .attr(name("from"), self.jid.as_str())
                    .attr(name("to"), o.session.as_str())
                    .append(x_el.clone())
                    .build();
                ctx.send(msg);
            }
            return Ok(());
        }
        for (occupant, old) in &updated {
            self.publicise(ctx, occupant, &XParts::both(x.clone()), actor, reason, *old);
            let changed = (*old == Role::Moderator) != (occupant.role == Role::Moderator);
            if occupant.role != Role::None && semi_anonymous && changed {
                // JID visibility changed: resend everyone's presence.
                self.send_occupant_list(ctx, &occupant.session, Some(&target_bare));
            }
        }
        Ok(())
    }

    /// `destroy`: every occupant gets its own unavailable presence with
    /// `<destroy/>`; the room is then gone.
    pub(crate) fn destroy(
        &mut self,
        ctx: &mut MucCtx<'_>,
        new_jid: Option<&str>,
        reason: Option<&str>,
    ) {
        let mut d = Element::builder("destroy", NS_MUC_USER);
        if let Some(j) = new_jid {
            d = d.attr(name("jid"), j);
        }
        if let Some(r) = reason {
            d = d.append(Element::builder("reason", NS_MUC_USER).append(r));
        }
        let x = XParts::both(vec![d.build()]);
        let occupants = std::mem::take(&mut self.occupants);
        self.destroyed = true;
        for mut o in occupants {
            let prev = o.role;
            o.role = Role::None;
            self.publicise(ctx, &o, &x, None, None, prev);
        }
    }
}
